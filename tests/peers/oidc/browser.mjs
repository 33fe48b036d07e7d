#!/usr/bin/env node
// Headless stand-in for the user's web browser in sign-in tests; usable as $BROWSER.
//
//     node tests/peers/oidc/browser.mjs URL
//
// URL is an authorization request (with a loopback redirect_uri) or a device-flow
// verification_uri_complete. The script does what a user would: it follows redirects, keeps
// cookies, and submits every HTML form it is shown, putting the account named by
// OIDC_TEST_ACCOUNT (default `alice`) into a field called `login`. With provider.mjs that
// confirms the user code, signs in, and grants consent; in the code flow the last redirect
// delivers the code to the client's loopback listener. A server that answers the URL with a
// redirect straight to the loopback address needs no forms: its redirects are followed to the
// end. The script stops at the first page without a form, usually within a second.
//
// Exit status: 0 when that page is a 2xx answer and its URL carries no OAuth `error`;
// 1 otherwise, with the requests made and the reason on stderr; 2 on bad usage.

const ACCOUNT = process.env.OIDC_TEST_ACCOUNT || 'alice';
const MAX_REQUESTS = 20;
const REQUEST_TIMEOUT_MS = 5000;

class Failure extends Error {}

// Cookies by host name (ports do not separate cookies) with path matching and expiry:
// oidc-provider scopes its interaction cookies to /interaction/UID and /auth/UID and deletes
// them by setting an expiry date in the past.
class CookieJar {
  #cookies = new Map();

  store(url, setCookieHeaders) {
    for (const header of setCookieHeaders) {
      const [pair, ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = url.pathname.slice(0, url.pathname.lastIndexOf('/')) || '/';
      let expired = false;
      for (const attribute of attributes) {
        const sep = attribute.indexOf('=');
        const key = (sep < 0 ? attribute : attribute.slice(0, sep)).trim().toLowerCase();
        const val = sep < 0 ? '' : attribute.slice(sep + 1).trim();
        if (key === 'path' && val.startsWith('/')) path = val;
        if (key === 'expires') expired = Date.parse(val) <= Date.now();
        if (key === 'max-age') expired = Number(val) <= 0;
      }
      const key = `${url.hostname} ${path} ${name}`;
      if (expired) {
        this.#cookies.delete(key);
      } else {
        this.#cookies.set(key, { host: url.hostname, path, name, value });
      }
    }
  }

  header(url) {
    const pathMatches = (path) => url.pathname === path
      || (url.pathname.startsWith(path) && (path.endsWith('/') || url.pathname[path.length] === '/'));
    return [...this.#cookies.values()]
      .filter((cookie) => cookie.host === url.hostname && pathMatches(cookie.path))
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ');
  }
}

function decodeEntities(text) {
  const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (entity, code) => {
    if (code[0] === '#') {
      return String.fromCodePoint(code[1].toLowerCase() === 'x' ? parseInt(code.slice(2), 16) : Number(code.slice(1)));
    }
    return named[code.toLowerCase()] ?? entity;
  });
}

function attributes(tag) {
  const found = {};
  for (const [, name, ...values] of tag.matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/g)) {
    found[name.toLowerCase()] = decodeEntities(values.find((v) => v !== undefined));
  }
  return found;
}

// The first <form> of the page: where it goes and the fields a browser would send. Inputs
// are taken as they are (hidden fields, prefilled user codes); buttons carry nothing here.
function firstForm(html, pageUrl) {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return undefined;
  const { action = '', method = 'get' } = attributes(form[1]);
  const fields = new URLSearchParams();
  for (const [, inputTag] of form[2].matchAll(/<input\b([^>]*)>/gi)) {
    const input = attributes(inputTag);
    if (input.name && !['submit', 'button', 'reset', 'image'].includes(input.type)) {
      fields.append(input.name, input.name === 'login' ? ACCOUNT : input.value ?? '');
    }
  }
  return { url: new URL(action, pageUrl), method: method.toUpperCase(), fields };
}

// What a page says, for error messages.
function pageText(body) {
  const text = body.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ');
  return decodeEntities(text).replace(/\s+/g, ' ').trim().slice(0, 500);
}

async function browse(startUrl) {
  const jar = new CookieJar();
  const trace = [];
  const submitted = new Set();
  let request = { url: new URL(startUrl), method: 'GET', body: undefined };

  try {
    while (trace.length < MAX_REQUESTS) {
      const { url, method, body } = request;
      const headers = { 'user-agent': 'tapprove-test-browser' };
      const cookie = jar.header(url);
      if (cookie) headers.cookie = cookie;
      if (body) headers['content-type'] = 'application/x-www-form-urlencoded';

      let response;
      try {
        response = await fetch(url, {
          method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (error) {
        throw new Failure(`${method} ${url} failed: ${error.cause?.message ?? error.message}`);
      }
      trace.push(`${method} ${url} -> ${response.status}`);
      jar.store(url, response.headers.getSetCookie());

      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        request = { url: new URL(location, url), method: 'GET', body: undefined };
        continue;
      }

      const text = await response.text();
      if (!response.ok) {
        throw new Failure(`${method} ${url} answered ${response.status}: ${pageText(text)}`);
      }
      const form = (response.headers.get('content-type') ?? '').includes('html')
        ? firstForm(text, url) : undefined;
      if (!form) {
        // The end: the client's loopback page in the code flow, the provider's success page
        // in the device flow. An OAuth error here was delivered to the client, but the
        // sign-in failed.
        const error = url.searchParams.get('error');
        if (error) {
          const description = url.searchParams.get('error_description');
          throw new Failure(`the authorization server answered error=${error}${description ? `: ${description}` : ''}`);
        }
        return trace;
      }

      // A form shown again after it was submitted means the server rejected it (a wrong or
      // expired user code, for example); submitting it again would loop. Forms differ by
      // target and field names: oidc-provider's device pages post the user code to /device
      // twice, the second time with `confirm`.
      const formKey = `${form.method} ${form.url} (${[...form.fields.keys()].join(', ')})`;
      if (submitted.has(formKey)) {
        throw new Failure(`the form ${formKey} came back after it was submitted; the page says: ${pageText(text)}`);
      }
      submitted.add(formKey);
      request = form.method === 'POST'
        ? { url: form.url, method: 'POST', body: form.fields.toString() }
        : { url: new URL(`?${form.fields}`, form.url), method: 'GET', body: undefined };
    }
    throw new Failure(`gave up after ${MAX_REQUESTS} requests without reaching a page without a form`);
  } catch (error) {
    if (error instanceof Failure) error.trace = trace;
    throw error;
  }
}

if (process.argv.length !== 3 || !URL.canParse(process.argv[2])) {
  console.error('usage: browser.mjs URL   (an authorization URL or a verification_uri_complete)');
  process.exit(2);
}

try {
  const trace = await browse(process.argv[2]);
  console.error(`browser.mjs: done after ${trace.length} requests, at ${trace.at(-1)}`);
  // Do not wait for idle keep-alive connections to close: whoever started us may be waiting.
  process.exit(0);
} catch (error) {
  if (!(error instanceof Failure)) throw error;
  if (error.trace.length > 0) {
    console.error(['browser.mjs: requests made:', ...error.trace.map((line) => `  ${line}`)].join('\n'));
  }
  console.error(`browser.mjs: ${error.message}`);
  process.exit(1);
}
