// The nginx configuration the README shows (deploy/nginx/dateline.conf), run by a real nginx
// (Debian's nginx-light) in front of the app on a real socket, as a newsroom puts it before
// several instances: which address the limits see, a long list's tag headers, an upload. Without
// nginx the suite skips, saying why, unless TEST_NGINX_REQUIRED is set (as CI does).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import { SITE_CONF, startNginx } from '../bench/balancer.js'
import { build } from './helper.js'
import { makeArticle, makeTag, post, type Json } from './articles-fixtures.js'
import { draftComment, publishedArticle } from './comments-helpers.js'
import { root } from './processes.js'

const hasNginx = spawnSync('sh', ['-c', 'command -v nginx']).status === 0
const skip = hasNginx || process.env.TEST_NGINX_REQUIRED ? false : 'needs nginx (apt-get install nginx-light)'

t.test('the README shows deploy/nginx/dateline.conf as it is', async (t) => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8')
  t.ok(readme.includes(`\`\`\`nginx\n${readFileSync(SITE_CONF, 'utf8')}\`\`\``), 'the README\'s nginx example is the file')
})

t.test('through nginx', { skip }, async (t) => {
  const h = await build(t, { env: { TRUST_PROXY: '1', PUBLIC_CACHE: 'true', COMMENT_RATE_PER_CLIENT: '1', AUTH_FAILURE_LIMIT: '3' } })
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = h.app.server.address() as { port: number }
  const nginx = await startNginx(t.testdir(), [port])
  t.teardown(nginx.stop)
  const send = (pathname: string, init: RequestInit = {}) => fetch(nginx.base + pathname, init)

  t.test('a long list: its Surrogate-Key and Cache-Tag pass nginx', async (t) => {
    // 100 articles of a tag each: the list names 200 tags and more, in two headers.
    const ids: string[] = []
    for (let i = 0; i < 100; i++) {
      const tag = await makeTag(h, `Tag number ${i}`)
      ids.push((await makeArticle(h, { headline: `Story number ${i}`, tagIds: [tag.id], body: [{ type: 'paragraph', text: 'Text.' }] })).id)
    }
    await post(h, '/v1/articles/bulk', { action: 'publish', ids })
    const res = await send('/v1/articles?limit=100&include=tags')
    t.equal(res.status, 200)
    const keys = res.headers.get('surrogate-key') ?? ''
    t.ok(keys.split(' ').length > 200, `${keys.split(' ').length} tags`)
    const headerBytes = [...res.headers].reduce((n, [name, value]) => n + name.length + value.length + 4, 0)
    t.ok(headerBytes > 4096, `${headerBytes} bytes of headers: more than nginx's default buffer for them`)
    t.equal(((await res.json()) as Json).data.length, 100)
  })

  t.test('an upload passes nginx (its body is buffered to a file)', async (t) => {
    const noise = Buffer.alloc(400 * 300 * 3)
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251
    const image = await sharp(noise, { raw: { width: 400, height: 300, channels: 3 } }).jpeg({ quality: 95 }).toBuffer()
    t.ok(image.length > 64 * 1024, `${image.length} bytes: more than nginx keeps in memory`)
    const form = new FormData()
    form.append('caption', 'Through the balancer')
    form.append('file', new Blob([image], { type: 'image/jpeg' }), 'balancer.jpg')
    const auth = { authorization: `Bearer ${h.editor.token}` }
    const res = await send('/v1/photos', { method: 'POST', body: form, headers: auth })
    t.equal(res.status, 201)
    const photo = await res.json() as Json
    t.equal(photo.width, 400)
    t.equal((await send(photo.renditions[0].url, { headers: auth })).status, 200)
  })

  t.test('the limits see the address nginx saw, whatever the client forged', async (t) => {
    const article = await publishedArticle(h)
    const comment = (xff: string) => send(`/v1/articles/${article.id}/comments`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': xff }, body: JSON.stringify(draftComment())
    })
    t.equal((await comment('203.0.113.5')).status, 201)
    t.equal((await comment('203.0.113.6')).status, 429, 'another forged address, the same client: 1 comment a minute')

    // Last: afterwards this address is blocked from authenticating for a while.
    const guess = (xff: string) => send('/v1/users/me', { headers: { authorization: `Bearer dl_not_a_real_token_${'0'.repeat(40)}`, 'x-forwarded-for': xff } })
    for (let i = 0; i < 3; i++) t.equal((await guess(`198.51.100.${i}`)).status, 401)
    t.equal((await guess('198.51.100.9')).status, 429, 'the guesser is stopped')
    t.equal((await send('/v1/users/me', { headers: { authorization: `Bearer ${h.editor.token}`, 'x-forwarded-for': '198.51.100.10' } })).status, 429, 'even with a real token, from that address')
  })
})
