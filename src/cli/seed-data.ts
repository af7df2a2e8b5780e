// Demo content for a new installation: a small newsroom in Port Aldren, a fictional harbour city
// on the Velle estuary. All text is original. Loaded through the services in one transaction.
import { count, eq, inArray } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { articles } from '../db/schema.js'
import { changeStatus, createArticle } from '../modules/articles/service.js'
import type { Block } from '../modules/articles/schemas.js'
import { createAuthor } from '../modules/authors/service.js'
import { createPhoto, createUploadedPhoto } from '../modules/photos/service.js'
import type { MediaStore } from '../modules/photos/storage.js'
import { demoImage } from './demo-images.js'
import { createTaxonomy } from '../modules/taxonomy/service.js'

export type SeedSummary = {
  authors: number
  sections: number
  tags: number
  photos: number
  articles: { total: number, published: number, scheduled: number, draft: number, archived: number }
  /** The showcase story: three bylines, a lead photo with its own caption, "Also read" links. */
  featured: { id: string, slug: string, headline: string }
}

const DAY = 86_400_000

const authorData = {
  mira: ['Mira Castellane', 'City reporter covering the council, transport and the Velle estuary. Joined Dateline from the Lowen Cross Courier in 2019.'],
  tobias: ['Tobias Wrenfield', 'Political editor. Has reported on every mayoral election in Port Aldren since 2008.'],
  hana: ['Hana Okafor', 'Business correspondent: shipping, housing, insurance and the people who pay for all three.'],
  declan: ['Declan Ashby', 'Sports reporter. Follows the Coastal League home and away, usually in the rain.'],
  ines: ['Ines Varga', 'Arts critic and culture writer, at the theatre four nights a week.']
} as const
type AuthorKey = keyof typeof authorData

const sectionData = {
  news: ['News', 'What is happening in Port Aldren and the Velle valley.'],
  politics: ['Politics', 'City Hall, the council and the race for mayor.'],
  business: ['Business', 'Jobs, money and the harbour economy.'],
  sport: ['Sport', 'Coastal League football and everything else played on grass or water.'],
  culture: ['Culture', 'Theatre, books, music and reviews.']
} as const
type SectionKey = keyof typeof sectionData

const tagData = {
  flooding: ['Flooding', 'River and tidal floods, defences and their cost.'],
  budget: ['City budget', 'The city levy and what the council spends it on.'],
  election: ['Mayoral election', 'The June election for mayor of Port Aldren.'],
  harbour: ['Harbour', 'The port, the quays and the Harbour Authority.'],
  transport: ['Transport', 'Trams, ferries and roads.'],
  housing: ['Housing', 'Building, renting and insuring homes.'],
  weather: ['Weather', 'Forecasts, warnings and storms.'],
  football: ['Football', 'The Coastal League and its clubs.'],
  arts: ['Arts', 'Theatre, festivals and performance.'],
  education: ['Education', 'Schools and learning.']
} as const
type TagKey = keyof typeof tagData

// [width, height, caption, credit, alt text]
const photoData = {
  harbour: [2400, 1600, 'Fishing boats moored at the Old Quay in Port Aldren.', 'PHOTO: City Archive', 'Blue and white fishing boats tied up along a stone quay at dawn'],
  barrier: [2400, 1350, 'The Velle flood barrier seen from the south bank.', 'PHOTO: Harbour Authority', 'Four steel gates spanning a wide river under a grey sky'],
  council: [2000, 1333, 'The council chamber at City Hall.', 'PHOTO: Port Aldren Council', 'Councillors seated in a wood-panelled chamber with raised hands'],
  stadium: [2400, 1600, 'The Quayside Ground, home of Port Aldren Mariners.', 'PHOTO: Dateline / Declan Ashby', 'A floodlit football pitch with a full stand behind one goal'],
  market: [1800, 1200, 'Stalls at the Netmakers’ Quay fish market.', 'PHOTO: Dateline / Hana Okafor', 'Fish laid out on ice at a covered market stall'],
  lyceum: [1600, 2000, 'The restored ceiling of the Lyceum Theatre.', 'PHOTO: City Archive', 'An ornate theatre ceiling painted dark blue with gilded stars']
} as const
type PhotoKey = keyof typeof photoData

type Story = {
  key: string
  section: SectionKey
  tags: TagKey[]
  by: AuthorKey[]
  /** Days before `now` it was published; negative schedules it; null leaves it a draft. */
  at: number | null
  archive?: boolean
  headline: string
  standfirst: string
  dateline: string
  lead?: { photo: PhotoKey, caption?: string }
  related?: string[]
  /** photo blocks name a PhotoKey, related blocks a story key; both are resolved to ids. */
  body: Block[] | ((publishedAt: Date) => Block[])
}

const p = (text: string): Block => ({ type: 'paragraph', text })
const h = (text: string, level: 2 | 3 = 2): Block => ({ type: 'heading', level, text })
const q = (text: string, attribution: string): Block => ({ type: 'quote', text, attribution })
const list = (items: string[], ordered = false): Block => ({ type: 'list', ordered, items })
const pic = (photo: PhotoKey, caption?: string): Block => ({ type: 'photo', photoId: photo, ...(caption !== undefined && { caption }) })
const also = (story: string): Block => ({ type: 'related', articleId: story })
const embed = (url: string): Block => ({ type: 'embed', url })

// ---- match reports, written from a results table ---------------------------------------

const clubs = {
  'Port Aldren Mariners': ['PORT ALDREN', 'the Quayside Ground'],
  'Tarrow Rovers': ['TARROW', 'Kiln Lane'],
  'Saltmere Athletic': ['SALTMERE', 'the Dunes Stadium'],
  'Lowen Cross United': ['LOWEN CROSS', 'Mill Lane'],
  'Carrowmere City': ['CARROWMERE', 'Crown Park']
} as const
type Club = keyof typeof clubs
type Match = { key: string, at: number, home: Club, away: Club, goals: Array<[string, number, 'h' | 'a']>, crowd: number, standfirst: string, detail: string, quote: [string, string], note: string, tags?: TagKey[], lead?: PhotoKey }

const ordinal = (n: number) => { const s = ['th', 'st', 'nd', 'rd'], v = n % 100; return `${n}${s[(v - 20) % 10] || s[v] || s[0]}` }

function match (m: Match): Story {
  const hs = m.goals.filter((g) => g[2] === 'h').length
  const as = m.goals.length - hs
  const [win, lose, hi, lo] = hs >= as ? [m.home, m.away, hs, as] : [m.away, m.home, as, hs]
  const verb = hi - lo >= 3 ? 'thrash' : hi - lo === 2 ? 'beat' : 'edge past'
  const headline = hs === as ? `${m.home} and ${m.away} ${hs === 0 ? 'share a goalless draw' : `draw ${hs}-${as}`}` : `${win} ${verb} ${lose} ${hi}-${lo}`
  const score = { h: 0, a: 0 }
  const seen = new Set<string>()
  const goals = m.goals.map(([name, minute, side]) => {
    const other = side === 'h' ? 'a' : 'h'
    const wasAhead = score[side] > score[other]
    score[side]++
    const team = side === 'h' ? m.home : m.away
    const [us, them] = [score[side], score[other]]
    const what = us + them === 1 ? `opened the scoring for ${team}` : us === them ? `equalised for ${team}`
      : us < them ? `pulled one back for ${team}` : !wasAhead ? `put ${team} ${us}-${them} ahead`
      : us === 2 ? `doubled the lead for ${team}` : `added a ${['third', 'fourth', 'fifth', 'sixth'][us - 3] ?? 'goal'} for ${team}`
    const who = seen.has(name) ? name.split(' ').at(-1) : name
    seen.add(name)
    return `${who} ${what} in the ${ordinal(minute)} minute.`
  })
  return {
    key: m.key, section: 'sport', tags: ['football', ...(m.tags ?? [])], by: ['declan'], at: m.at, headline, standfirst: m.standfirst,
    dateline: clubs[m.home][0], ...(m.lead && { lead: { photo: m.lead } }),
    body: (at) => {
      const day = at.toLocaleDateString('en-GB', { weekday: 'long', timeZone: 'UTC' })
      const result = hs === as ? `${m.home} and ${m.away} ${hs === 0 ? 'played out a goalless draw' : `drew ${hs}-${as}`}` : `${win} ${hi - lo >= 3 ? 'swept aside' : 'beat'} ${lose} ${hi}-${lo}`
      return [
        p(`${result} at ${clubs[m.home][1]} on ${day}, in front of a crowd of <strong>${m.crowd.toLocaleString('en-GB')}</strong>.`),
        p([...goals, m.detail].join(' ')),
        q(...m.quote),
        p(m.note)
      ]
    }
  }
}

// ---- the stories, oldest first (a related link may only point at an earlier one) ------

const stories: Story[] = [
  { key: 'barrier', section: 'news', tags: ['flooding', 'harbour'], by: ['mira'], at: 29.4, dateline: 'PORT ALDREN', lead: { photo: 'barrier' },
    headline: 'Velle flood barrier closes for the first time this year as spring tide peaks', standfirst: 'Harbour engineers lowered all four gates before dawn, holding back a surge that came within 40 centimetres of the 2014 record.',
    body: [
      p('Engineers closed all four gates of the Velle flood barrier shortly after 4am on Tuesday, the first full closure of the year, as a spring tide driven by strong westerly winds pushed the estuary towards its highest level in a decade.'),
      p('The surge peaked at <strong>6.1 metres</strong> above chart datum at 5.42am, according to the Harbour Authority, about 40 centimetres below the level that flooded the Old Quay in 2014. Upstream of the barrier, the river stayed within its banks.'),
      q('The barrier did exactly what it was built to do. But it is thirty years old, and we are closing it more often every winter.', 'Conrad Balewa, chief executive of the Harbour Authority'),
      pic('barrier', 'The gates in the closed position on Tuesday morning.'),
      p('The gates reopened on the afternoon ebb. Residents can check closure times on the <a href="https://harbour.portaldren.example/barrier">Harbour Authority website</a>, which now publishes a 48-hour tide forecast.')
    ] },
  { key: 'ferry', section: 'news', tags: ['transport', 'harbour'], by: ['mira'], at: 28.2, archive: true, dateline: 'PORT ALDREN',
    headline: 'Cross-harbour ferry moves to its winter timetable early', standfirst: 'Sailings between the Old Quay and Saltmere drop from every 15 minutes to every half hour while one boat is repaired.',
    body: [
      p('The cross-harbour ferry will run every 30 minutes instead of every 15 from Monday, as the operator switches to its winter timetable a month early to repair one of its two boats.'),
      p('Season tickets remain valid and will not be reduced, a decision that drew a stream of complaints from commuters on the operator’s social media pages.'),
      list(['Weekdays: every 30 minutes, 6.30am to 10.45pm', 'Saturdays: every 30 minutes, 8am to 11.15pm', 'Sundays and holidays: hourly, 9am to 8pm']),
      p('The operator, Estuary Ferries, said the second boat, the <em>Kittiwake</em>, should be back in service by the end of the month.')
    ] },
  { key: 'budgetDraft', section: 'politics', tags: ['budget'], by: ['tobias'], at: 27.1, dateline: 'PORT ALDREN',
    headline: 'Council publishes draft budget with four per cent rise in city levy', standfirst: 'The city treasurer says the increase is needed to cover higher energy bills and a first survey of repairs to the Velle flood barrier.',
    body: [
      p('Port Aldren households face a four per cent rise in the city levy from April under a draft budget published on Thursday, the largest increase since the levy was introduced in 2011.'),
      p('The draft sets out spending of 412 million crowns for the coming year. Energy bills for schools, libraries and the tram depot account for most of the increase, but the treasurer, Selim Haddad, has also set aside <strong>9 million crowns</strong> for an engineering survey of the ageing flood barrier.'),
      h('What changes for residents', 3),
      list(['A typical household pays about 64 crowns a year more', 'Residents’ parking permits rise from 90 to 110 crowns', 'Library opening hours are unchanged', 'Free swimming for under-16s continues for another year']),
      q('Nobody enjoys asking people to pay more. But a budget that ignored the barrier would not be a responsible budget.', 'Selim Haddad, city treasurer'),
      p('The draft is open for comment for three weeks on the <a href="https://portaldren.example/budget">council’s budget pages</a> before a vote of the full council.')
    ] },
  match({ key: 'matchTarrow', at: 26.3, home: 'Port Aldren Mariners', away: 'Tarrow Rovers', goals: [['Jonah Pell', 23, 'h'], ['Kofi Mensah', 51, 'a'], ['Luca Brandt', 88, 'h']], crowd: 11240,
    standfirst: 'A late header from Luca Brandt settles a scrappy derby and keeps the Mariners in the promotion places.', detail: 'Rovers had the better of the second half and hit the post twice before Brandt rose highest at a corner.',
    quote: ['We made it hard for ourselves, but the lads kept going until the last minute.', 'Ivo Draskovic, Mariners manager'],
    note: 'The win lifts the Mariners to third in the Coastal League, two points behind the leaders.' }),
  { key: 'lyceum', section: 'culture', tags: ['arts'], by: ['ines'], at: 25.2, dateline: 'PORT ALDREN', lead: { photo: 'lyceum' },
    headline: 'Lyceum Theatre reopens after three-year restoration', standfirst: 'The city’s oldest playhouse has its painted ceiling back, new seats and, for the first time, a lift to the upper circle.',
    body: [
      p('The Lyceum Theatre reopened on Friday night after a three-year, 26-million-crown restoration that has returned the 1889 auditorium to something close to its original colours.'),
      p('Restorers spent eleven months on the ceiling alone, removing decades of soot to reveal a night sky of gilded stars hidden since the 1950s. The seats, reupholstered in deep green, are wider than before, which has cost the house 84 places.'),
      q('People kept asking whether we would modernise it. We did. You just cannot see most of it.', 'Aurelie Moss, artistic director of the Lyceum'),
      embed('https://video.dateline.example/watch/lyceum-ceiling-restoration'),
      p('The opening season begins with a revival of <em>The Salt Years</em>, a play written for the theatre’s centenary and not staged since.')
    ] },
  { key: 'market', section: 'business', tags: ['harbour', 'budget'], by: ['hana'], at: 24.0, dateline: 'PORT ALDREN',
    headline: 'Fish market traders warn rising harbour dues could close stalls', standfirst: 'The Harbour Authority wants to raise landing fees by a fifth to help pay for repairs to the quay wall.',
    body: [
      p('Traders at the Netmakers’ Quay fish market say a proposed 20 per cent rise in harbour dues could force some of the smaller stalls out of business within a year.'),
      p('The Harbour Authority says the increase, the first in six years, is needed to balance its budget and repair the quay wall, damaged in last winter’s storms. Its consultation paper describes current fees as “among the lowest of any port on this coast”.'),
      q('Two boats, one stall, and my family has been here since my grandfather. We cannot put the price of a plaice up by a fifth and expect anyone to buy it.', 'Rosa Delvecchio, who runs a stall with her brother'),
      pic('market'),
      p('The consultation closes at the end of the month. Traders plan to hand a petition to the authority’s board, which meets in public at the Customs House.')
    ] },
  { key: 'mayorQuits', section: 'politics', tags: ['election'], by: ['tobias'], at: 23.4, dateline: 'PORT ALDREN', lead: { photo: 'council' },
    headline: 'Renholm will not seek a fourth term, opening the race for mayor', standfirst: 'The mayor told a packed chamber that twelve years was “long enough for anyone” as the election was set for June.',
    body: [
      p('Edda Renholm, mayor of Port Aldren since 2012, announced on Wednesday that she will not stand in June’s mayoral election, ending weeks of speculation at City Hall.'),
      p('Her announcement came minutes after the council confirmed the election date as 14 June. Renholm, who won her third term with 54 per cent of the vote, said she would not endorse a successor before the parties had chosen their candidates.'),
      q('Twelve years is long enough for anyone. This city deserves an election with a new name at the top of every ballot paper.', 'Edda Renholm, mayor of Port Aldren'),
      p('Her deputy, Marcus Tolland, is expected to seek the Harbour Party nomination. The Civic Alliance said it would name its candidate <em>within a fortnight</em>.')
    ] },
  { key: 'lowenFlood', section: 'news', tags: ['flooding', 'weather'], by: ['mira'], at: 22.2, dateline: 'LOWEN CROSS',
    headline: 'Lowen Cross counts the cost after the river bursts its banks', standfirst: 'Around 140 homes were flooded when the upper Velle rose two metres in a night. Residents ask why the town has no flood defences of its own.',
    body: [
      p('Residents of Lowen Cross spent the weekend pumping water from cellars and carrying ruined furniture into the street after the upper Velle burst its banks on Friday night, flooding around 140 homes and most of the high street.'),
      p('The river rose more than two metres in eight hours after the heaviest rainfall recorded in the valley since 1931. The flood barrier downstream protects Port Aldren from tidal surges, but does nothing for towns upstream when the river itself overflows.'),
      h('Where to get help'),
      list(['Emergency accommodation: Lowen Cross Community Hall, Mill Lane', 'Sandbags and skips: the council depot on Station Road, 8am to 6pm', 'Flood grants of up to 2,500 crowns: apply at <a href="https://portaldren.example/flood-help">portaldren.example/flood-help</a>']),
      q('We have been asking for a flood wall since 2007. Every time, we are told the money is needed in the city.', 'Tomas Reyne, chair of the Lowen Cross residents’ association'),
      also('barrier')
    ] },
  match({ key: 'matchSaltmere', at: 21.3, home: 'Saltmere Athletic', away: 'Lowen Cross United', goals: [], crowd: 3890, tags: ['flooding'],
    standfirst: 'Lowen Cross, a week after the flood closed their own ground, take a hard-earned point on the coast.', detail: 'Neither goalkeeper was seriously tested until the last ten minutes, when Saltmere’s Ari Solberg shot straight at Piet Dahl from six yards.',
    quote: ['Some of our players were bailing out their houses last week. A point here means more than most.', 'Fenna Rask, Lowen Cross United manager'],
    note: 'Lowen Cross will play their next two home games at Kiln Lane while the flood-damaged pitch at Mill Lane dries out.' }),
  { key: 'shipyard', section: 'business', tags: ['harbour', 'transport'], by: ['hana'], at: 20.1, dateline: 'PORT ALDREN', lead: { photo: 'harbour' },
    headline: 'Greyhaven shipyard wins contract for six hybrid ferries', standfirst: 'The 180-million-crown order secures around 400 jobs at the yard until at least 2029.',
    body: [
      p('Greyhaven Yard has won a contract to build six battery-diesel hybrid ferries for the national coastal ferry company, the largest order at the Port Aldren shipyard in more than twenty years.'),
      p('The first vessel is due in 2027. Each will carry up to 300 passengers and 40 cars and run on battery power alone when entering and leaving port, which the operator says will cut fuel use by about a third.'),
      q('For years people said shipbuilding in this city was finished. Six ships says otherwise.', 'Jana Kowal, managing director of Greyhaven Yard'),
      p('The yard plans to take on 60 apprentices over two years. Union officials welcomed the order but said they would press for the steel to come from domestic mills.')
    ] },
  { key: 'budgetDebate', section: 'politics', tags: ['budget', 'flooding'], by: ['tobias'], at: 18.2, dateline: 'PORT ALDREN',
    headline: 'Budget debate: opposition demands more money for flood defences', standfirst: 'The Civic Alliance says the draft budget does too little for towns upstream of the barrier after the Lowen Cross flood.',
    body: [
      p('The council’s budget debate turned into an argument about flooding on Monday, as opposition councillors called for the draft budget to be rewritten to pay for defences in Lowen Cross and other towns on the upper Velle.'),
      p('The Civic Alliance tabled an amendment moving 6 million crowns from road resurfacing into a new upstream flood fund. The treasurer said the survey of the tidal barrier had to come first, but did not rule out a compromise.'),
      h('The amendment in brief', 3),
      list(['Move 6 million crowns from road resurfacing', 'Commission a flood wall feasibility study for Lowen Cross', 'Pay for flood doors and non-return valves in 300 homes'], true),
      q('The flood in Lowen Cross was not an act of God. It was a line in a spreadsheet that said upstream could wait.', 'Priya Lindqvist, Civic Alliance group leader'),
      also('budgetDraft')
    ] },
  { key: 'tram', section: 'news', tags: ['transport'], by: ['mira'], at: 17.3, dateline: 'PORT ALDREN',
    headline: 'Tram extension to Eastgate approved after ten-year wait', standfirst: 'Line 3 will run 4.2 kilometres further east, with six new stops and a park-and-ride at the ring road.',
    body: [
      p('The regional transport board has approved the extension of tram Line 3 to Eastgate, a decade after the route was first proposed and twice shelved for lack of money.'),
      p('Construction is expected to start next spring and take about three years. Eastgate Road will be reduced to one lane in each direction for much of that time, the board said.'),
      list(['Foundry Street', 'Eastgate Market', 'St Brannoc’s Hospital', 'Kiln Park', 'Eastgate Schools', 'Ring Road park-and-ride'], true),
      q('This is the line most people in Eastgate have been waiting for. Some of them have been waiting since they were at school.', 'Nadia Ferraro, chair of the regional transport board'),
      embed('https://maps.dateline.example/tram-line-3-eastgate')
    ] },
  { key: 'review', section: 'culture', tags: ['arts'], by: ['ines'], at: 16.2, dateline: 'PORT ALDREN', related: ['lyceum'],
    headline: 'Review: The Salt Years returns to the Lyceum, and it has aged well', standfirst: 'A forgotten centenary play about a fishing family finds a new audience in the restored theatre.',
    body: [
      p('There is a moment in the second act of <em>The Salt Years</em> when the whole of the Lyceum seems to hold its breath: the eldest son, home from sea after three years, stands in his mother’s kitchen and cannot remember where the cups are kept.'),
      p('It is the kind of quiet scene Halvard Brisk’s play does best. The storms that close each act are louder and less convincing, though Aurelie Moss’s production gives them a sound design that rattles the new seats.'),
      q('I wanted to write about what the sea takes from the people who stay on land.', 'Halvard Brisk, in the original 1989 programme'),
      p('<strong>Four stars.</strong> <em>The Salt Years</em> runs until the end of next month. Tickets from the <a href="https://lyceum.portaldren.example">Lyceum box office</a>.')
    ] },
  match({ key: 'matchCarrowmere', at: 15.3, home: 'Carrowmere City', away: 'Port Aldren Mariners', goals: [['Jonah Pell', 9, 'a'], ['Teo Vargas', 34, 'h'], ['Samuel Okoro', 62, 'a'], ['Jonah Pell', 79, 'a']], crowd: 8020,
    standfirst: 'Jonah Pell scores twice as the Mariners win in the capital for the first time in five years.', detail: 'City pressed hard after the break, but Pell’s second, a low shot across the keeper, ended the contest.',
    quote: ['Jonah is playing with a smile on his face. When he does that, he scores.', 'Ivo Draskovic, Mariners manager'],
    note: 'Pell’s two goals take him to 14 for the season, the most in the Coastal League.' }),
  { key: 'schools', section: 'news', tags: ['education', 'flooding'], by: ['mira'], at: 14.2, dateline: 'LOWEN CROSS',
    headline: 'Schools in the flood zone to get new drainage before autumn', standfirst: 'Five schools closed by the Lowen Cross flood will have pumps and raised electrics fitted over the summer holidays.',
    body: [
      p('Five schools closed for up to a week by last month’s flood will have new drainage, pumps and raised electrical systems fitted over the summer, the regional education office said on Thursday.'),
      p('The work will cost about 3.5 million crowns. Lowen Cross Primary, where water reached the tops of the classroom radiators, will also get a ground floor that can be hosed down and dried rather than replaced.'),
      q('The children lost a week of school and most of their artwork. We would like it to be the last time.', 'Greta Holm, head teacher of Lowen Cross Primary'),
      p('Parents are invited to see the plans at a meeting in the school hall on Tuesday at 6.30pm.')
    ] },
  { key: 'candidates', section: 'politics', tags: ['election'], by: ['tobias'], at: 12.3, dateline: 'PORT ALDREN',
    headline: 'Three candidates confirmed in the race to succeed Renholm', standfirst: 'The deputy mayor, an opposition leader and a harbour pilot have each gathered the 500 signatures needed to stand.',
    body: [
      p('Three candidates will contest June’s mayoral election after nominations closed at noon on Friday, the city’s returning officer said.'),
      list(['<strong>Marcus Tolland</strong> (Harbour Party), deputy mayor for six years', '<strong>Priya Lindqvist</strong> (Civic Alliance), leader of the opposition group on the council', '<strong>Odile Fenn</strong> (independent), a harbour pilot who has campaigned for a flood wall at Lowen Cross']),
      p('It is the first election in Port Aldren without a sitting mayor on the ballot since 2012. Turnout last time was 41 per cent, and all three candidates say they want it above half.'),
      q('This election is about two things: whether people can afford to live here, and whether their homes will stay dry.', 'Odile Fenn, independent candidate'),
      also('mayorQuits')
    ] },
  { key: 'housing', section: 'business', tags: ['housing'], by: ['hana'], at: 11.1, dateline: 'CARROWMERE',
    headline: 'Housing starts fall for a third quarter in a row', standfirst: 'Builders blame borrowing costs and a shortage of plots outside the Velle floodplain.',
    body: [
      p('Work began on 1,180 new homes in the region in the last three months, down 14 per cent on a year earlier and the third quarterly fall in a row, according to the national statistics office.'),
      p('Builders say higher borrowing costs have made buyers cautious, and that much of the land zoned for housing around Port Aldren sits inside flood risk areas where insurers are reluctant to offer cover.'),
      q('We have planning permission for 200 homes we cannot insure. That is not a housing strategy.', 'Leon Marchetti, regional chair of the Builders’ Federation'),
      p('The figures add to pressure on the mayoral candidates, all three of whom have promised more homes without yet saying where they would go.')
    ] },
  { key: 'budgetPassed', section: 'politics', tags: ['flooding', 'budget', 'harbour'], by: ['mira', 'tobias', 'hana'], at: 9.2, dateline: 'PORT ALDREN',
    lead: { photo: 'barrier', caption: 'The Velle flood barrier, which will be refitted over three winters under the budget approved on Tuesday.' },
    related: ['barrier', 'lowenFlood'],
    headline: 'Council passes budget with 38 million crowns for flood barrier upgrade', standfirst: 'After a seven-hour debate, councillors voted 31-12 for a budget that doubles flood spending and, for the first time, pays for defences upstream.',
    body: [
      p('Port Aldren’s council approved its budget late on Tuesday by 31 votes to 12, <strong>committing 38 million crowns over three years</strong> to refit the Velle flood barrier and setting aside a separate fund for flood defences in towns upstream.'),
      p('The final budget keeps the four per cent rise in the city levy proposed in the draft, but adopts a version of the opposition’s amendment: 4 million crowns will pay for a flood wall study at Lowen Cross and grants for flood doors, funded by delaying road resurfacing in the city centre.'),
      h('What the budget pays for'),
      list(['Barrier refit: 38 million crowns over three years, starting next winter', 'Upstream flood fund: 4 million crowns', 'Quay wall repairs: 7 million crowns', 'Tram Line 3 preparatory works: 2.5 million crowns']),
      q('We have spent a month arguing about flooding. Tonight we stopped arguing and paid for it.', 'Selim Haddad, city treasurer'),
      pic('council', 'Councillors vote on the budget in the City Hall chamber on Tuesday night.'),
      p('Both mayoral candidates on the council, Marcus Tolland and Priya Lindqvist, voted in favour, taking the budget off the table as an election issue, at least for now. The 12 votes against came from councillors who opposed the levy rise.'),
      also('budgetDebate')
    ] },
  match({ key: 'matchTop', at: 8.3, home: 'Port Aldren Mariners', away: 'Saltmere Athletic', goals: [['Luca Brandt', 12, 'h'], ['Jonah Pell', 40, 'h'], ['Jonah Pell', 55, 'h'], ['Ari Solberg', 90, 'a']], crowd: 12600, lead: 'stadium',
    standfirst: 'A season-best crowd sees the Mariners go top of the Coastal League for the first time since 2016.', detail: 'Solberg’s stoppage-time reply was the only blemish on a game the Mariners controlled from the first whistle.',
    quote: ['We were second best in every part of the pitch. I have no complaints.', 'Dragan Holt, Saltmere Athletic manager'],
    note: 'The Mariners lead the table by a point with six games left. Tickets for the next home game went on sale on Monday and the club expects another full house.' }),
  { key: 'bookFestival', section: 'culture', tags: ['arts', 'education'], by: ['ines'], at: 7.2, dateline: 'PORT ALDREN',
    headline: 'Port Aldren Book Festival unveils its biggest programme yet', standfirst: 'More than 120 events over ten days, with a new strand for teenage readers and a night of poetry on the ferry.',
    body: [
      p('The Port Aldren Book Festival will host more than 120 events across ten days in September, organisers announced on Monday, including a strand for readers aged 13 to 17 and a night of poetry on the cross-harbour ferry.'),
      p('Events will be held at the Customs House, the central library and, for the first time, the restored Lyceum. The festival director, Samir Aziz, said ticket prices were frozen for a third year and a third of events would be free.'),
      h('Highlights', 3),
      list(['Opening night: the novelist Vera Lindahl in conversation at the Lyceum', '<em>Salt and Ink</em>: a day of writing workshops for teenagers at the central library', 'Poetry on the water: readings on the last ferry of the night']),
      q('A festival in a harbour city ought to have at least one event that might be cancelled because of the weather.', 'Samir Aziz, festival director')
    ] },
  { key: 'storm', section: 'news', tags: ['weather', 'flooding'], by: ['mira'], at: 5.2, dateline: 'PORT ALDREN', lead: { photo: 'harbour' },
    headline: 'Amber warning as storm heads for the coast', standfirst: 'Gusts of up to 110 km/h and a high tide on Thursday night could bring flooding to low-lying streets, forecasters say.',
    body: [
      p('The national weather service has issued an amber warning for wind and rain along the coast from Thursday afternoon, with gusts of up to 110 kilometres an hour expected in exposed places.'),
      p('The storm is forecast to arrive a few hours before a high spring tide. The Harbour Authority expects to close the flood barrier on Thursday night, and warned that waves could still overtop the sea wall along the Esplanade.'),
      list(['Move cars away from the Esplanade and the Old Quay', 'Secure bins, garden furniture and trampolines', 'Do not walk or drive through flood water', 'Check the barrier status before travelling along the river']),
      embed('https://weather.dateline.example/warnings/coast-amber'),
      p('Ferry services are likely to be cancelled from mid-afternoon. Schools will decide on Thursday morning whether to close early.')
    ] },
  { key: 'debate', section: 'politics', tags: ['election', 'housing', 'flooding'], by: ['tobias'], at: 4.1, dateline: 'PORT ALDREN', related: ['candidates'],
    headline: 'First election debate dominated by housing and flood insurance', standfirst: 'The three candidates for mayor agreed on the problem and disagreed on almost everything else.',
    body: [
      p('Housing costs and the rising price of flood insurance dominated the first televised debate of the mayoral election on Tuesday night, with all three candidates promising more homes and none agreeing on where.'),
      p('Marcus Tolland proposed building on former dock land at Greyhaven, raised above the flood level. Priya Lindqvist said the city should buy empty flats and let them at controlled rents. Odile Fenn said nothing new should be built on the floodplain until Lowen Cross had its flood wall.'),
      q('Every one of us has a plan to build homes. The question is whether anyone will be able to insure them.', 'Odile Fenn, independent candidate'),
      embed('https://video.dateline.example/watch/mayoral-debate-one'),
      also('candidates')
    ] },
  { key: 'insurance', section: 'business', tags: ['flooding', 'housing'], by: ['hana'], at: 3.2, dateline: 'CARROWMERE', related: ['lowenFlood'],
    headline: 'Insurers raise premiums for homes on the Velle floodplain', standfirst: 'Some Lowen Cross households have seen the price of buildings cover triple since the flood.',
    body: [
      p('Homeowners on the Velle floodplain face steep rises in insurance premiums, with some households in Lowen Cross quoted three times last year’s price to renew their buildings cover after the flood.'),
      p('The national insurers’ association said claims from the flood had reached 61 million crowns, the costliest river flood in the region for twenty years. Members would <em>not</em> withdraw cover from any postcode, it said, but prices had to reflect the risk.'),
      q('I was quoted 3,900 crowns. Last year it was 1,250. Nothing about the house has changed, except that it has been flooded once.', 'Anneli Sorensen, a Lowen Cross homeowner'),
      p('Consumer groups advise homeowners to compare quotes and to ask whether fitting flood doors or raising sockets would bring the price down.')
    ] },
  match({ key: 'matchMillLane', at: 2.3, home: 'Lowen Cross United', away: 'Tarrow Rovers', goals: [['Mats Ekland', 17, 'a'], ['Bram Nolte', 44, 'h'], ['Kofi Mensah', 70, 'a'], ['Bram Nolte', 86, 'h']], crowd: 2100, tags: ['flooding'],
    standfirst: 'Bram Nolte scores twice on an emotional return to Mill Lane, five weeks after the flood.', detail: 'Nolte’s late equaliser, a volley from the edge of the area, brought the biggest cheer Mill Lane has heard in years.',
    quote: ['Half the people in that stand helped relay this pitch by hand. The least we could do was not lose.', 'Fenna Rask, Lowen Cross United manager'],
    note: 'It was the first match at Mill Lane since the flood. The club says the clubhouse will reopen next month.' }),
  { key: 'cleanup', section: 'news', tags: ['harbour', 'weather'], by: ['mira'], at: 1.2, dateline: 'PORT ALDREN', related: ['storm'],
    headline: 'Volunteers clear two tonnes of debris from the harbour after the storm', standfirst: 'Timber, plastic crates and an upturned rowing boat were pulled from the water on Sunday morning.',
    body: [
      p('More than 200 volunteers spent Sunday morning clearing storm debris from the harbour and the Esplanade beach, filling two skips with timber, plastic crates, fishing net and, at one point, a rowing boat.'),
      p('The storm brought down trees across the city on Thursday night and briefly cut power to 3,000 homes in Saltmere, but the barrier held back the tide and no homes were reported flooded.'),
      q('We found the boat’s owner by lunchtime. He had been looking for it since Friday.', 'Lotte Brandt, who organised the cleanup'),
      p('The Harbour Authority thanked volunteers and said its own crews would clear larger debris from the navigation channel this week.')
    ] },
  // Drafts
  { key: 'carFree', section: 'news', tags: ['transport'], by: ['mira'], at: null, dateline: 'PORT ALDREN',
    headline: 'Council considers car-free Sundays on the waterfront', standfirst: 'A six-month trial would close the Esplanade to traffic every Sunday from May.',
    body: [
      p('The Esplanade could be closed to cars every Sunday from May under a six-month trial to be considered by the council’s transport committee next week.'),
      p('Buses and deliveries to the ferry terminal would still be allowed through. Traders on the seafront are divided: cafés support the idea, while the two petrol stations say they would lose their busiest day.'),
      q('We want to see whether people use the road differently when there are no cars on it.', 'Nadia Ferraro, chair of the regional transport board')
    ] },
  { key: 'academy', section: 'sport', tags: ['football', 'education'], by: ['declan'], at: null, dateline: 'PORT ALDREN',
    headline: 'Inside the Mariners academy, where the next Jonah Pell is learning his trade', standfirst: 'Forty boys and girls, three pitches and a coach who has been there since 1998.',
    body: [
      p('At half past four on a Tuesday, the three pitches behind the Quayside Ground are full: forty players aged 9 to 16, split by age, running drills in the fading light.'),
      p('Jonah Pell came through this academy. So did four of the players who started the win over Saltmere Athletic. The club spends about 1.2 million crowns a year on it, a large sum for a Coastal League side.'),
      q('I tell them the same thing I told Jonah at eleven: the ball does not care who your father is.', 'Elias Brun, academy director')
    ] },
  { key: 'levyExplainer', section: 'business', tags: ['budget'], by: ['hana'], at: null, dateline: 'PORT ALDREN',
    headline: 'Explainer: where your city levy goes', standfirst: 'Schools, bins, trams and, increasingly, the flood barrier: how each crown of the levy is spent.',
    body: [
      p('The city levy raises about 190 million crowns a year, a little under half of what the council spends. The rest comes from national grants, fees and charges.'),
      list(['Schools and childcare: 31 per cent', 'Social care: 24 per cent', 'Waste and street cleaning: 12 per cent', 'Transport: 11 per cent', 'Flood defences: 6 per cent, up from 3']),
      p('The figures come from the council’s own budget book, published each spring on the <a href="https://portaldren.example/budget">budget pages</a> of its website.')
    ] },
  // Scheduled
  { key: 'pollsOpen', section: 'politics', tags: ['election'], by: ['tobias'], at: -1.5, dateline: 'PORT ALDREN',
    headline: 'Election day: what you need to know before you vote for mayor', standfirst: 'Polls are open from 7am to 10pm. Bring your polling card, or just yourself.',
    body: [
      p('Polling stations across Port Aldren open at 7am for the mayoral election and close at 10pm. Anyone in the queue at 10pm will still be allowed to vote.'),
      list(['Find your polling station on your polling card or at <a href="https://portaldren.example/vote">portaldren.example/vote</a>', 'Give your name and address to the staff', 'Mark one cross for your first choice and, if you wish, one for your second', 'Fold the paper and put it in the ballot box'], true),
      p('Counting begins at the Customs House straight after the polls close. A result is expected in the early hours of the morning.'),
      also('debate')
    ] },
  { key: 'season', section: 'culture', tags: ['arts'], by: ['ines'], at: -4, dateline: 'PORT ALDREN',
    headline: 'Lyceum autumn season: the shows worth booking now', standfirst: 'A new opera, a touring comedy and a Christmas show for small children head the restored theatre’s second season.',
    body: [
      p('The Lyceum announced its autumn season on Wednesday, the first it has programmed from scratch since reopening. Booking opens to members next week and to everyone a week later.'),
      list(['<em>The Lighthouse Keeper’s Daughter</em>, a new chamber opera, in October', 'The touring comedy <em>Two Weddings and a Ferry</em> for two weeks in November', 'A Christmas show for under-sevens, with a relaxed performance every Saturday']),
      p('Ticket prices start at 12 crowns, and the theatre will hold back 50 seats a night for under-25s at 5 crowns.')
    ] }
]

const HOUR = 3_600_000
const SETUP_DAYS = 35

/**
 * When a story was drafted, published (or scheduled) and archived, so that createdAt <=
 * publishedAt <= updatedAt for published stories; a scheduled one was drafted and scheduled
 * (updatedAt) before the publishedAt still to come; a draft was last touched when it was begun.
 */
function timeline (s: Story, i: number, now: Date) {
  const draftHours = 2 + (i % 4)
  const publishedAt = s.at === null ? undefined : new Date(now.getTime() - s.at * DAY)
  const due = publishedAt !== undefined && publishedAt <= now
  const createdAt = due
    ? new Date(publishedAt.getTime() - draftHours * HOUR)
    : new Date(now.getTime() - ((1 + (i % 3)) * DAY + draftHours * HOUR))
  // Published at its time; scheduled an hour after the draft was begun.
  const decidedAt = due ? publishedAt : new Date(createdAt.getTime() + HOUR)
  const archivedAt = new Date(Math.min(decidedAt.getTime() + 2 * DAY, now.getTime()))
  return { createdAt, publishedAt, decidedAt, archivedAt }
}

/** Whether any article exists; a database with content is left alone. */
export async function hasContent (db: Db): Promise<boolean> {
  return (await db.select({ id: articles.id }).from(articles).limit(1)).length > 0
}

/** Creates one row per entry, in order, and maps each key to the new row's id. */
async function idsOf<K extends string, V> (data: Record<K, V>, create: (key: K, value: V) => Promise<{ id: string }>) {
  const ids = {} as Record<K, string>
  for (const [key, value] of Object.entries(data) as Array<[K, V]>) ids[key] = (await create(key, value)).id
  return ids
}

function resolve (body: Block[], photoIds: Record<string, string>, articleIds: Map<string, string>): Block[] {
  const id = (map: Map<string, string>, key: string) => { const v = map.get(key); if (!v) throw new Error(`seed: unknown reference "${key}"`); return v }
  const photos = new Map(Object.entries(photoIds))
  return body.map((b) => (b.type === 'photo' ? { ...b, photoId: id(photos, b.photoId) } : b.type === 'related' ? { ...b, articleId: id(articleIds, b.articleId) } : b))
}

/**
 * With a media store, the photos are real image files drawn here and uploaded like any other;
 * without one, they are metadata pointing at placeholder URLs.
 */
export async function seedDemo (db: Db, now: Date = new Date(), store?: MediaStore): Promise<SeedSummary> {
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    // The newsroom (photos, authors, sections, tags) exists before its first story.
    const setUp = new Date(now.getTime() - SETUP_DAYS * DAY)
    const photoIds = await idsOf(photoData, async (key, [width, height, caption, credit, altText]) => {
      if (store) {
        const file = await demoImage(key, width, height)
        return createUploadedPhoto(tx, store, { file, meta: { caption, credit, altText }, createdById: null, limits: { maxPixels: width * height, maxSide: Math.max(width, height), maxAspectRatio: Infinity }, now: setUp })
      }
      const url = `https://images.dateline.example/demo/${key}.jpg`
      const renditions = [800, 1600].map((w) => ({ width: w, url: url.replace('.jpg', `-${w}.jpg`) }))
      return createPhoto(tx, { url, width, height, mimeType: 'image/jpeg', caption, credit, altText, renditions }, null, setUp)
    })
    const authorIds = await idsOf(authorData, (_key, [name, bio]) => {
      const slug = name.toLowerCase().replace(/\s+/g, '-')
      return createAuthor(tx, { name, bio, email: `${slug.replace(/-/g, '.')}@dateline.example`, links: { website: `https://dateline.example/authors/${slug}` } }, setUp)
    })
    const sectionIds = await idsOf(sectionData, (_key, [name, description]) => createTaxonomy(tx, 'section', { name, description }, setUp))
    const tagIds = await idsOf(tagData, (_key, [name, description]) => createTaxonomy(tx, 'tag', { name, description }, setUp))

    const articleIds = new Map<string, string>()
    const guard = () => {}
    for (const [i, s] of stories.entries()) {
      const { createdAt, publishedAt, decidedAt, archivedAt } = timeline(s, i, now)
      const body = typeof s.body === 'function' ? s.body(publishedAt ?? now) : s.body
      const { id } = await createArticle(tx, {
        headline: s.headline, standfirst: s.standfirst, dateline: s.dateline, body: resolve(body, photoIds, articleIds),
        authorIds: s.by.map((a) => authorIds[a]), sectionId: sectionIds[s.section], tagIds: s.tags.map((t) => tagIds[t]),
        relatedArticleIds: (s.related ?? []).map((k) => articleIds.get(k)!),
        ...(s.lead && { leadPhotoId: photoIds[s.lead.photo], leadPhotoCaption: s.lead.caption ?? null }),
        seo: { title: s.headline, description: s.standfirst }
      }, null, createdAt)
      articleIds.set(s.key, id)
      if (publishedAt) await changeStatus(tx, id, 'publish', { now: decidedAt, publishedAt: publishedAt.toISOString(), guard })
      if (s.archive) await changeStatus(tx, id, 'archive', { now: archivedAt, guard })
    }

    const byStatus = { published: 0, scheduled: 0, draft: 0, archived: 0 }
    const rows = await tx.select({ status: articles.status, n: count() }).from(articles)
      .where(inArray(articles.id, [...articleIds.values()])).groupBy(articles.status)
    for (const r of rows) byStatus[r.status] = Number(r.n)
    const [featured] = await tx.select({ id: articles.id, slug: articles.slug, headline: articles.headline })
      .from(articles).where(eq(articles.id, articleIds.get('budgetPassed')!))
    const n = (ids: object) => Object.keys(ids).length
    return {
      authors: n(authorIds), sections: n(sectionIds), tags: n(tagIds), photos: n(photoIds),
      articles: { total: articleIds.size, ...byStatus },
      featured
    }
  })
}

/** Seeds the demo content when there are no articles yet; returns whether it did. */
export async function seedIfEmpty (db: Db, now?: Date, store?: MediaStore): Promise<boolean> {
  if (await hasContent(db)) return false
  await seedDemo(db, now, store)
  return true
}
