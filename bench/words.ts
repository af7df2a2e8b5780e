// Word lists for the seeder. The text it writes is word salad, but with the shape of news copy:
// about half function words, a Zipf-distributed news vocabulary, and a long tail of proper nouns,
// so full-text search sees common terms in most articles and rare names in a handful.

const words = (text: string) => text.trim().split(/\s+/)

/** Most frequent first. */
export const functionWords = words(`
  the of and to a in that is was for on it with as at by he from his be have are this but not
  had they an or which were has been their will would its who there we one her all she more
  when if about up out into than can so them some could only other what also after over these
  two before because first most then through may many new any where those should while since
  between under during against each very three both down four just again still much back
  another such even now here several however around without within among across upon until
  every five though whether our your us him me my off per via near toward since once`)

/** News vocabulary, roughly most frequent first. */
export const contentWords = words(`
  said year people city government time week day police council public state local new last
  told report plans people month work school money service officials years told country world
  home family health hospital minister city week party community water support business
  children residents million years workers company court according members group number told
  national former million public made including percent announced team season game club
  market prices rates housing homes building development plan project road transport train
  station airport flights harbour river bridge port flood weather storm rain winter summer
  election vote voters campaign mayor candidate leader leaders office policy budget tax taxes
  spending cuts funding cost costs pay wages jobs unemployment economy growth inflation bank
  banks interest investors shares profit losses sales industry energy power electricity gas
  oil climate emissions environment pollution waste recycling park parks trees wildlife coast
  beach sea fishing boats ships cargo shipping trade exports imports farmers farm crops food
  restaurant prices shops shoppers retail street streets centre town towns village villages
  district region county area areas neighbourhood property rent tenants landlords mortgage
  students teachers pupils university college education exam results research scientists
  study studies data evidence survey analysis figures report reports review inquiry investigation
  case cases trial judge jury lawyer lawyers charges charged arrested arrest crime crimes
  victim victims witness witnesses prison sentence sentenced appeal ruling law laws legislation
  bill parliament committee hearing debate motion proposal proposals decision decisions
  agreement deal talks negotiations union unions strike strikes protest protesters march
  rally crowd crowds fans supporters players player coach manager match matches goal goals
  win won victory defeat lost draw league cup final finals championship title race races
  runners cyclists sailors regatta tournament stadium ground pitch injury injured hospitalised
  ambulance doctors nurses patients treatment care waiting lists clinic clinics surgery
  vaccine virus outbreak cases deaths died death killed accident crash collision fire fires
  firefighters rescue emergency services warning warnings alert evacuation damage repairs
  insurance claims safety risk risks danger concerns concern worries fears questions answers
  statement spokesperson spokeswoman spokesman interview letter letters email emails message
  online website internet app technology digital software computer phones network networks
  internet broadband signal coverage festival music concert theatre play stage actors film
  films cinema books book author writers gallery museum exhibition artist artists art culture
  history heritage anniversary celebration ceremony memorial church cathedral library hall
  chamber building buildings construction contractor contractors design architects planning
  permission application applications objections approval approved rejected delayed delay
  delays schedule timetable services routes route buses bus tram trams ferry ferries cars
  drivers traffic parking cycling lanes pavement safety speed limits cameras fines penalty
  charges fees tickets fares passengers commuters journey journeys travel tourists tourism
  visitors hotel hotels holiday season events event organisers volunteers charity charities
  donations appeal fundraising grant grants scheme schemes programme programmes initiative
  pilot trial launch launched opening opened closure closed closing shut reopen reopened
  future past recent latest early late morning afternoon evening night weekend monday tuesday
  wednesday thursday friday saturday sunday january february march april may june july august
  september october november december spring autumn quarter half percent figures average
  total rise rising fall falling increase increased decrease decreased record high low higher
  lower level levels target targets goal aims aim hopes expected expects likely unlikely
  possible impossible important major minor key main central northern southern eastern western
  old young older younger elderly teenage adult adults parents mother father son daughter wife
  husband brother sister friends friend neighbours neighbour owner owners staff employees
  chief executive director chairman chairwoman president secretary spokesperson officer
  officers inspector sergeant constable detective councillor councillors ministers senator
  mp mps cabinet opposition coalition majority minority seat seats polls poll ballot count
  turnout result results winner winners loser candidates incumbent challenger term office
  authority authorities agency agencies department departments ministry regulator watchdog
  commission board trust foundation association society federation council's city's nation
  nations international european foreign domestic regional municipal rural urban coastal
  inland upstream downstream estuary valley hills mountain lake island islands bay quay quays
  dock docks warehouse factory factories plant mill mills workshop office offices tower
  towers apartment apartments flats houses estate estates garden gardens allotments square
  market markets stall stalls fishmongers bakery cafe pub pubs bar bars nightlife crime
  safety lighting cctv patrols neighbourhood watch youth clubs sport sports swimming pool
  gym leisure centre library libraries services cuts closures jobs losses redundancies
  hiring recruitment shortage shortages demand supply chain chains delivery deliveries
  orders contracts tender tenders bid bids bidder auction sale sold buy bought buyers sellers
  price value worth billion thousand hundreds thousands dozens couple pair single double
  triple half quarter third second fourth fifth sixth seventh eighth ninth tenth dozen
  agreed refused denied confirmed revealed claimed insisted admitted warned urged called
  asked added explained described suggested argued believed thought expected hoped wanted
  needed decided planned promised pledged vowed threatened criticised praised welcomed
  rejected backed opposed supported approved voted elected appointed resigned retired
  returned joined left moved arrived travelled visited met spoke wrote published released
  issued signed agreed reached opened closed started finished completed continued remained
  stayed became grew fell rose dropped climbed reached doubled halved tripled cut raised
  extended reduced improved worsened changed replaced repaired rebuilt restored renovated
  demolished built designed developed created produced made sold bought paid earned spent
  saved lost won scored beat defeated drew played trained prepared announced`)

export const firstNames = words(`
  Mira Tobias Hana Declan Ines Oskar Priya Samuel Lena Mateo Chloe Arjun Freya Jonas Amara
  Felix Nadia Rowan Isla Theo Yusuf Elena Callum Sofia Ravi Maeve Hugo Leila Aidan Zara
  Niamh Kofi Astrid Emil Rosa Tariq Ingrid Luca Aisha Conor Greta Malik Saoirse Pavel Nina
  Omar Clara Jasper Anya Bruno Lucia Dmitri Esme Idris Talia Marco Vera Kenji Orla`)

export const sectionNames = words(`
  News Politics Business Sport Culture World Opinion Science Technology Health Education
  Environment Travel Food Books Music Film Theatre Property Money Motoring Weather Crime
  Courts Transport Local Obituaries Letters Features Lifestyle`)

export const tagTopics = words(`
  Flooding Budget Election Harbour Transport Housing Weather Football Arts Education Tram
  Ferry Council Police Hospital Schools Taxes Jobs Tourism Fishing Shipping Energy Climate
  Pollution Parks Libraries Theatre Music Festival Rugby Cricket Sailing Rowing Cycling
  Athletics Courts Prisons Planning Heritage Museums Charity Volunteers Health Nursing
  Pensions Wages Strikes Unions Inflation Banks Insurance Retail Markets Restaurants Pubs
  Nightlife Crime Safety Roads Parking Airport Rail Buses Bridges Estuary Coast Beaches
  Wildlife Farming Food Water Waste Recycling Broadband Technology Startups Science
  Universities Research Students Teachers Childcare Families Elderly Youth Migration
  Faith Obituaries Anniversaries Storms Drought Heatwave Snow Tides Lifeboats Firefighters`)

export const tagQualifiers = words(`
  Local City Regional Coastal Northern Southern Youth Women's Community Public Private
  Winter Summer Harbour Valley National Old New`)

const onsets = words('b br c ch d dr f fl g gr h j k l m n p pr r s sh st t tr v w z th bl cl')
const vowels = words('a e i o u ai ea ou ie oa')
const codas = ['', '', 'n', 'r', 'l', 's', 'th', 'ck', 'm', 'nd', 'rt', 'ng', 'st', 'ff', 'x']

/** A made-up proper noun, e.g. "Draveston": the long tail of names and places. */
export function properNoun (next: () => number): string {
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]
  const syllables = 2 + Math.floor(next() * 2)
  let out = ''
  for (let i = 0; i < syllables; i++) out += pick(onsets) + pick(vowels) + pick(codas)
  return out.charAt(0).toUpperCase() + out.slice(1)
}

/** The term the "common term" search scenario looks for: in about half of the published articles. */
export const COMMON_TERM = 'mayor'
