// inlineToText reads the cleaned markup directly; it must give what a full sanitize-html pass
// that keeps no tags gives, for any input cleanInline can be handed.
import t from 'tap'
import sanitizeHtml from 'sanitize-html'
import { cleanInline, inlineToText } from '../src/modules/articles/body.js'

const bySanitizer = (html: string) => sanitizeHtml(html, { allowedTags: [], allowedAttributes: {} })
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&')

const inputs = [
  'plain words',
  `Tom & Jerry <3 > 2 "quoted" 'single'`,
  '&amp;lt;b&amp;gt; stays text, &lt;i&gt; too, &nbsp;&copy;&#169;&#x41; &bogus; & ;',
  '<a href="https://x.example/?a=1&b=2&c=>3">link with > and & in its href</a> after',
  '<a href="https://x.example/" title="a > b">t</a><em>e<strong>s</strong>t</em>',
  '<b>bold</b> <i>it</i> <u>under</u> <script>gone()</script> <style>p{}</style> kept',
  '<a href="javascript:alert(1)">js</a> <img src=x onerror=alert(1)> <!-- comment --> tail',
  '<<b>>double<</b>> < a> <a <b>c</b>',
  'broken <strong>unclosed <em>tags',
  'line\nbreaks\tand   spaces',
  'emoji 📰 and ünïcödé — “curly” ‘quotes’',
  '<svg><text>svg text</text></svg><math>m</math>',
  '<a href="https://x.example/">a &quot;quoted&quot; &#39;link&#39;</a>'
]

t.test('inlineToText of cleaned markup equals a sanitize-html pass', async (t) => {
  for (const input of inputs) {
    const cleaned = cleanInline(input)
    t.equal(inlineToText(cleaned), bySanitizer(cleaned), JSON.stringify(input))
  }
  t.equal(inlineToText(cleanInline('<a href="https://x.example/?a=1&b=2">A &amp; B</a> 1 < 2')), 'A & B 1 < 2')
})
