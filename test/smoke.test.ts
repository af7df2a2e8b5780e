import t from 'tap'
import { build, call } from './helper.js'

t.test('smoke', async (t) => {
  const h = await build(t, { env: { LOG_LEVEL: 'error' } })
  const sec = await call(h.app, 'POST', '/v1/sections', { token: h.editor.token, body: { name: 'World' } })
  t.equal(sec.statusCode, 201, sec.body)
  const art = await call(h.app, 'POST', '/v1/articles', { token: h.author.token, body: {
    headline: 'Floods hit the valley', sectionId: sec.json().id,
    body: [{ type: 'paragraph', text: 'Water <script>alert(1)</script> rose <em>fast</em> <a href="javascript:x">bad</a>.' }]
  } })
  t.equal(art.statusCode, 201, art.body)
  console.log(art.json())
  const id = art.json().id
  const pub = await call(h.app, 'POST', `/v1/articles/${id}/publish`, { token: h.editor.token })
  t.equal(pub.statusCode, 200, pub.body)
  h.queries.length = 0
  const list = await call(h.app, 'GET', '/v1/articles?include=authors,leadPhoto,section,tags,relatedArticles')
  t.equal(list.statusCode, 200, list.body)
  console.log(list.json(), h.queries.length)
  const q = await call(h.app, 'GET', '/v1/articles?q=flood')
  t.equal(q.json().data.length, 1, q.body)
  const patch = await call(h.app, 'PATCH', `/v1/articles/${id}`, { token: h.editor.token, headers: { 'if-match': '"99-abc"' }, body: { headline: 'x' } })
  t.equal(patch.statusCode, 412, patch.body)
})
