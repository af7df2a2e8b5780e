// Which address the limits see behind a proxy, for each form of TRUST_PROXY, with real
// X-Forwarded-For chains as nginx builds them (it appends the address that connected to it).
// The per-client comment limit is set to 1 a minute: a second comment from the address the
// limit sees is a 429, one from another address a 201.
import t, { type Test } from 'tap'
import { build } from './helper.js'
import { loadConfig } from '../src/config.js'
import { draftComment, postComment, publishedArticle } from './comments-helpers.js'

const BALANCER = '10.0.0.1'
const CDN = '10.0.0.2'

async function setup (t: Test, trust: string) {
  const h = await build(t, { env: { TRUST_PROXY: trust, COMMENT_RATE_PER_CLIENT: '1' } })
  const article = await publishedArticle(h)
  /** Posts a comment that reached the app from `socket` with this X-Forwarded-For (if any). */
  const post = async (socket: string, xff?: string) =>
    (await postComment(h.app, article.id, draftComment(), { address: socket, headers: xff ? { 'x-forwarded-for': xff } : {} })).statusCode
  return { h, post }
}

t.test('TRUST_PROXY=false: X-Forwarded-For is ignored, every client is the balancer', async (t) => {
  const { post } = await setup(t, 'false')
  t.equal(await post(BALANCER, '203.0.113.5'), 201)
  t.equal(await post(BALANCER, '203.0.113.6'), 429, 'another client behind the balancer shares its bucket')
})

for (const [trust, label] of [['1', 'a hop count'], [BALANCER, 'the balancer\'s address'], ['10.0.0.0/8', 'a CIDR']]) {
  t.test(`TRUST_PROXY=${trust} (${label}): the client is the address the balancer saw`, async (t) => {
    const { post } = await setup(t, trust)
    t.equal(await post(BALANCER, '203.0.113.5'), 201, 'a client')
    t.equal(await post(BALANCER, '203.0.113.6'), 201, 'another client has a bucket of its own')
    t.equal(await post(BALANCER, '198.51.100.1, 203.0.113.5'), 429, 'a client cannot pick another address by sending X-Forwarded-For itself')
    t.equal(await post(BALANCER, '198.51.100.2, 198.51.100.3, 203.0.113.6'), 429, 'nor with a longer chain')
  })
}

t.test('TRUST_PROXY given as addresses: a client that connects directly cannot pose as a proxy', async (t) => {
  const { post } = await setup(t, BALANCER)
  t.equal(await post('198.51.100.7', '203.0.113.9'), 201)
  t.equal(await post('198.51.100.7', '203.0.113.10'), 429, 'its own address counts, whatever it sends')
})

t.test('TRUST_PROXY=2: a CDN in front of the balancer', async (t) => {
  const { post } = await setup(t, '2')
  t.equal(await post(BALANCER, `203.0.113.5, ${CDN}`), 201)
  t.equal(await post(BALANCER, `203.0.113.6, ${CDN}`), 201, 'clients apart')
  t.equal(await post(BALANCER, `198.51.100.1, 203.0.113.5, ${CDN}`), 429, 'the address the CDN saw counts, not one the client sent')
})

t.test('TRUST_PROXY=true trusts every hop: a client picks its own address (why the README warns)', async (t) => {
  const { post } = await setup(t, 'true')
  t.equal(await post(BALANCER, '198.51.100.1, 203.0.113.5'), 201)
  t.equal(await post(BALANCER, '198.51.100.2, 203.0.113.5'), 201, 'the same client, a fresh bucket for each address it makes up')
})

t.test('the failed-authentication limit sees the same address', async (t) => {
  const h = await build(t, { env: { TRUST_PROXY: '1', AUTH_FAILURE_LIMIT: '3' } })
  const attempt = (xff: string) => h.app.inject({
    method: 'GET', url: '/v1/users', remoteAddress: BALANCER,
    headers: { authorization: 'Bearer dl_not_a_real_token_at_all_0000000000000000000', 'x-forwarded-for': xff }
  })
  for (let i = 0; i < 3; i++) t.equal((await attempt(`198.51.100.${i}, 203.0.113.5`)).statusCode, 401)
  t.equal((await attempt('198.51.100.9, 203.0.113.5')).statusCode, 429, 'the guesser is stopped, whatever it sends')
  t.equal((await attempt('203.0.113.6')).statusCode, 401, 'another client behind the same balancer is not')
})

t.test('a TRUST_PROXY that is neither a count nor addresses stops the start with one line', async (t) => {
  t.throws(() => loadConfig({ TRUST_PROXY: '10.0.0.300' }), { name: 'Error', message: 'TRUST_PROXY="10.0.0.300" is not allowed: TRUST_PROXY takes false, a number of proxy hops, or comma-separated proxy addresses and CIDRs (such as 10.0.0.1,10.1.0.0/16, loopback, uniquelocal); true trusts every hop.' })
  t.throws(() => loadConfig({ TRUST_PROXY: 'nginx' }), { message: /^TRUST_PROXY="nginx" is not allowed/ })
  t.equal(loadConfig({ TRUST_PROXY: '10.0.0.0/8, loopback' }).TRUST_PROXY, '10.0.0.0/8, loopback')
})
