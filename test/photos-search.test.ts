// GET /v1/photos?q=&credit=&createdAfter=&createdBefore=: an editor finding a picture among
// many. Word-prefix search over caption, credit and alt text, an exact credit ignoring case,
// a date window, all combined with keyset pagination.
import t from 'tap'
import { build, call } from './helper.js'
import { problem, walk } from './assertions.js'

const DAY = 86_400_000
const start = Date.parse('2026-03-01T09:00:00.000Z')
const dayOf = (n: number) => new Date(start + n * DAY).toISOString()

t.test('photo search and filters', async (t) => {
  let clock = new Date(start)
  const h = await build(t, { now: () => clock })
  const add = async (day: number, body: Record<string, unknown>) => {
    clock = new Date(dayOf(day))
    const res = await call(h.app, 'POST', '/v1/photos', { token: h.author.token, body: { url: `https://cdn.example.com/${day}.jpg`, ...body } })
    t.equal(res.statusCode, 201, res.body)
    // Public, so the public finds them too (test/photos-visibility.test.ts covers the rest).
    const marked = await call(h.app, 'PATCH', `/v1/photos/${res.json().id}`, { token: h.editor.token, body: { public: true } })
    t.equal(marked.statusCode, 200, marked.body)
    return res.json().id as string
  }
  const photo = {
    boats: await add(1, { caption: 'Boats at the Old Quay', credit: 'PHOTO: City Archive', altText: 'Fishing boats at dawn' }),
    master: await add(2, { caption: 'Harbour master Lotte Brandt', credit: 'PHOTO: Reuters', altText: 'A woman in a yellow coat' }),
    weir: await add(3, { caption: 'The Velle in flood', credit: 'photo: reuters', altText: 'Brown water over the weir' }),
    humid: await add(4, { caption: '100% humidity_test at the 50_50 bar', credit: 'Reuters Pictures' }),
    cafe: await add(5, { caption: 'Café Sørensen reopens', altText: 'Tables on the pavement' }),
    bare: await add(6, {})
  }
  const name = new Map(Object.entries(photo).map(([k, v]) => [v, k]))
  clock = new Date(dayOf(10))

  /** The names of the photos a query finds, newest first (one page of 100). */
  const found = async (query: Record<string, string>, token?: string) => {
    const res = await call(h.app, 'GET', '/v1/photos', { query: { limit: '100', ...query }, token })
    t.equal(res.statusCode, 200, res.body)
    return res.json().data.map((p: { id: string }) => name.get(p.id))
  }

  await t.test('q: every word begins a word of caption, credit or alt text, in any case', async (t) => {
    t.strictSame(await found({ q: 'boats' }), ['boats'])
    t.strictSame(await found({ q: 'BOAT' }), ['boats'], 'a prefix, whatever the case')
    t.strictSame(await found({ q: 'boats dawn' }), ['boats'], 'words from caption and alt text together')
    t.strictSame(await found({ q: 'quay harbour' }), [], 'every word must match')
    t.strictSame(await found({ q: 'harb' }), ['master'])
    t.strictSame(await found({ q: 'reuters' }), ['humid', 'weir', 'master'], 'credits are searched, newest first')
    t.strictSame(await found({ q: 'archive' }), ['boats'])
    t.strictSame(await found({ q: 'yellow coat' }), ['master'], 'alt text is searched')
    t.strictSame(await found({ q: 'oat' }), [], 'a word must begin with the term: no match inside a word')
    t.strictSame(await found({ q: 'SØRENSEN' }), ['cafe'], 'letters beyond ASCII, ignoring case')
    t.strictSame(await found({ q: 'caf' }), ['cafe'])
    t.strictSame(await found({ q: 'humidity_test' }), ['humid'], 'punctuation separates words')
    t.strictSame(await found({ q: '50_50' }), ['humid'])
    t.strictSame(await found({ q: '100%' }), ['humid'], '% is no wildcard: 100 matches as a word')
    t.strictSame(await found({ q: 'velle' }), ['weir'])
    t.strictSame(await found({ q: 'the' }), ['cafe', 'humid', 'weir', 'boats'], 'no stop words: "the" is a word like any other')
  })

  await t.test('q is never query syntax', async (t) => {
    t.strictSame(await found({ q: '!reuters' }), ['humid', 'weir', 'master'], '! is not a negation')
    t.strictSame(await found({ q: 'water | nothing' }), [], '| is not an or')
    t.strictSame(await found({ q: "weir'):* | (brown" }), ['weir'], 'quotes and brackets are separators')
    t.strictSame(await found({ q: 'boats & dawn <-> fishing' }), ['boats'])
    t.strictSame(await found({ q: 'q\\x' }), [], 'a backslash separates words too')
    for (const q of ['%', '_', '*', "'", '!&|():*', '   ']) {
      const p = problem(t, await call(h.app, 'GET', '/v1/photos', { query: { q } }), 400, 'VALIDATION_FAILED')
      t.strictSame(p.errors, [{ path: '/q', in: 'query', message: 'needs at least one letter or digit' }], JSON.stringify(q))
    }
    for (const q of ['', 'x'.repeat(201)]) {
      const p = problem(t, await call(h.app, 'GET', '/v1/photos', { query: { q } }), 400, 'VALIDATION_FAILED')
      t.match(p.errors, [{ path: '/q', in: 'query' }], `q of ${q.length} characters`)
    }
  })

  await t.test('credit: exactly this credit, ignoring case', async (t) => {
    t.strictSame(await found({ credit: 'photo: REUTERS' }), ['weir', 'master'])
    t.strictSame(await found({ credit: 'PHOTO: Reuters' }), ['weir', 'master'])
    t.strictSame(await found({ credit: 'Reuters' }), [], 'not a part of a credit')
    t.strictSame(await found({ credit: 'PHOTO: Reuter%' }), [], 'no LIKE wildcards')
    t.strictSame(await found({ credit: 'PHOTO: Reuter_' }), [])
    t.strictSame(await found({ credit: 'reuters pictures', q: 'humidity' }), ['humid'], 'combines with q')
    problem(t, await call(h.app, 'GET', '/v1/photos', { query: { credit: '' } }), 400, 'VALIDATION_FAILED')
  })

  await t.test('createdAfter and createdBefore: an inclusive window', async (t) => {
    t.strictSame(await found({ createdAfter: dayOf(4) }), ['bare', 'cafe', 'humid'])
    t.strictSame(await found({ createdBefore: dayOf(2) }), ['master', 'boats'])
    t.strictSame(await found({ createdAfter: dayOf(2), createdBefore: dayOf(3) }), ['weir', 'master'])
    t.strictSame(await found({ createdAfter: new Date(Date.parse(dayOf(3)) + 1).toISOString(), createdBefore: dayOf(4) }), ['humid'], 'a millisecond after counts')
    t.strictSame(await found({ createdAfter: dayOf(5), createdBefore: dayOf(1) }), [], 'an empty window')
    t.strictSame(await found({ q: 'reuters', createdAfter: dayOf(3) }), ['humid', 'weir'], 'combines with q')
    t.strictSame(await found({ q: 'reuters', credit: 'photo: reuters', createdBefore: dayOf(2) }), ['master'], 'all of them at once')
    for (const [key, value] of [['createdAfter', 'yesterday'], ['createdBefore', '2026-13-01T00:00:00Z']]) {
      const p = problem(t, await call(h.app, 'GET', '/v1/photos', { query: { [key]: value } }), 400, 'VALIDATION_FAILED')
      t.match(p.errors, [{ path: `/${key}`, in: 'query' }])
    }
  })

  await t.test('pages of a search join into the one-page answer, in both orders', async (t) => {
    // More matches than a page, some added at the same moment (the id breaks the tie).
    clock = new Date(dayOf(7))
    for (let i = 0; i < 5; i++) await add(7, { caption: `Reuters wire picture ${i}` })
    clock = new Date(dayOf(10))
    for (const sort of ['-createdAt', 'createdAt']) {
      const query = { q: 'reuters', sort }
      const whole = (await call(h.app, 'GET', '/v1/photos', { query: { ...query, limit: '100' } })).json().data.map((p: { id: string }) => p.id)
      t.equal(whole.length, 8, `${sort}: eight matches`)
      const paged = (await walk(t, h, '/v1/photos', { ...query, limit: '3' })).map((p) => p.id)
      t.strictSame(paged, whole, `${sort}: pages of 3 give every match once, in order`)
    }
    const anonymous = await found({ q: 'reuters' })
    t.strictSame(await found({ q: 'reuters' }, h.editor.token), anonymous, 'staff and the public find the same photos')
  })

  await t.test('an edit is searchable at once', async (t) => {
    const res = await call(h.app, 'PATCH', `/v1/photos/${photo.cafe}`, { token: h.author.token, body: { caption: 'Closed for the winter', credit: 'Staff' } })
    t.equal(res.statusCode, 200, res.body)
    t.notOk('search' in res.json(), 'the search vector is not part of a photo')
    t.strictSame(await found({ q: 'sørensen' }), [])
    t.strictSame(await found({ q: 'winter staff pavement' }), ['cafe'])
    t.strictSame(await found({ credit: 'STAFF' }), ['cafe'])
  })
})
