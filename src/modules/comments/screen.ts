// Screening of reader comments before they are stored. A screen looks at one candidate and
// returns a verdict with its reasons; screens combine, so a newsroom can add an external
// classifier next to (or instead of) the built-in rules.

export type Candidate = {
  articleId: string
  authorName: string
  authorEmail: string
  body: string
  /** The honeypot form field: people leave it empty, bots fill it. */
  honeypot?: string
  clientHash: string
  /** Whether this client posted this same body (case and spacing aside) in the last 24 hours. */
  repeat: boolean
}

export type Verdict = { status: 'pending' | 'spam', reasons: string[] }

export type Screen = (candidate: Candidate) => Promise<Verdict>

export type RuleOptions = {
  maxLinks: number
  blocklist: string[]
}

// A URL with a scheme is one link up to the next space or the next scheme (so
// `https://www.x.example` is not counted twice, and glued links still count apart); a bare
// `www.` host counts on its own.
const LINK = /https?:\/\/(?:(?!https?:\/\/)\S)*|(?<![\w./-])www\.[a-z0-9-]+\.[a-z]/gi

export function isShouting (text: string): boolean {
  const letters = text.match(/\p{L}/gu) ?? []
  if (letters.length < 20) return false
  const upper = letters.filter((c) => c !== c.toLowerCase() && c === c.toUpperCase()).length
  return upper / letters.length > 0.7
}

function blockedWords (text: string, blocklist: string[]): string[] {
  if (blocklist.length === 0) return [] // the default: no need to split the text into words
  const words = new Set(text.toLowerCase().normalize('NFKC').match(/[\p{L}\p{N}]+/gu) ?? [])
  return blocklist.filter((w) => words.has(w))
}

/**
 * The built-in rules. Reasons: `honeypot`, `repeat`, `too_many_links`, `blocklist`, `shouting`.
 * A filled honeypot, a repeat, or links far beyond the limit are clear spam; any other reason
 * leaves the comment pending for an editor, who sees the reasons.
 */
export function ruleScreen (options: RuleOptions): Screen {
  return async (c) => {
    const reasons: string[] = []
    let spam = false
    if (c.honeypot && c.honeypot.trim() !== '') { reasons.push('honeypot'); spam = true }
    if (c.repeat) { reasons.push('repeat'); spam = true }
    const links = (c.body.match(LINK) ?? []).length
    if (links > options.maxLinks) {
      reasons.push('too_many_links')
      if (links > options.maxLinks * 2 + 2) spam = true
    }
    const blocked = blockedWords(`${c.authorName} ${c.body}`, options.blocklist)
    if (blocked.length > 0) reasons.push('blocklist')
    if (isShouting(c.body)) reasons.push('shouting')
    if (reasons.length >= 3) spam = true
    return { status: spam ? 'spam' : 'pending', reasons }
  }
}

/** Runs screens in order and merges them: any spam verdict wins; reasons add up. */
export function combineScreens (...screens: Screen[]): Screen {
  return async (c) => {
    const verdicts = await Promise.all(screens.map((s) => s(c)))
    return {
      status: verdicts.some((v) => v.status === 'spam') ? 'spam' : 'pending',
      reasons: [...new Set(verdicts.flatMap((v) => v.reasons))]
    }
  }
}
