/**
 * The one redaction every message, log line and error that may carry a URL or a connection string goes through
 * (invariant 10: no secret in logs or errors). Adapters use it on the URLs they name; the CLI and the job logger
 * run it over whole messages, so a secret a driver or SDK repeats is hidden too. It errs on the side of hiding:
 * a host next to a password may be masked with it, a password never shows.
 */

const MASK = '***';

/**
 * Query parameters whose value is a secret: passwords, tokens, keys, SAS and presigned-URL signatures. Names of
 * secrets (`passwordSecret`, `connectionStringEnv`) are not.
 */
const SECRET_PARAMETERS = [
  'password',
  'passwd',
  'pwd',
  'pass',
  'secret',
  'client_secret',
  'token',
  'access_token',
  'sessionToken',
  'apiKey',
  'api_key',
  'key',
  'accessKey',
  'secretAccessKey',
  'aws_secret_access_key',
  'sig',
  'signature',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
];

/**
 * Connection-string fields (Azure storage, Event Hubs, ADO-style) whose value is a secret, up to the next `;`.
 * `SharedAccessKeyName` names a policy and stays.
 */
const SECRET_FIELDS = ['AccountKey', 'SharedAccessKey', 'SharedAccessSignature', 'Password', 'Pwd'];

const alternatives = (names: string[]) => names.map((name) => name.replace(/-/g, '\\-')).join('|');
/** A name starts where no letter, digit, `_` or `-` precedes it: `monkey=` is not `key=`. */
const NAME_START = '(?<![A-Za-z0-9_-])';

/**
 * `name=value;…` outside a query string: the value runs to the next `;`, so a SAS (itself `sv=…&sig=…`) is hidden
 * whole. In a query (`?password=`, `&pwd=`) the parameter rule below applies.
 */
const SECRET_FIELD = new RegExp(
  `((?<![A-Za-z0-9_?&-])(?:${alternatives(SECRET_FIELDS)})=)([^;\\s"'<>]*)`,
  'gi',
);

/** `?password=…`, `&sig=…`: the value up to the next `&name=`, so a raw `&` in a password is hidden too. */
const SECRET_PARAMETER = new RegExp(
  `(${NAME_START}(?:${alternatives(SECRET_PARAMETERS)})=)((?:(?!&[A-Za-z_][\\w.-]*=)[^;\\s"'#<>])*)`,
  'gi',
);

/**
 * `scheme://user:password@host`: the password runs to the last `@` of the token, so a raw `@`, `/`, `:` or `?` in
 * it (not percent-encoded, as users do type them) is hidden whole rather than cut at the first one.
 */
const USERINFO_IN_TEXT = /([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:"'<>]*):[^\s"'<>]*@/gi;

/** Hides every password, key, token and signature a free text (a message, a log line, an error) may carry. */
export function redactSecrets(text: string): string {
  return text
    .replace(USERINFO_IN_TEXT, `$1:${MASK}@`)
    .replace(SECRET_FIELD, `$1${MASK}`)
    .replace(SECRET_PARAMETER, `$1${MASK}`);
}

/**
 * A URL or connection string as it may appear in messages and logs. The whole string is the URL, so a password
 * with a raw space is hidden up to the last `@` too.
 */
export function redactUrl(url: string): string {
  const userInfo = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):.*@/is.exec(url);
  const withoutPassword = userInfo ? `${userInfo[1]}:${MASK}@${url.slice(userInfo[0].length)}` : url;
  return redactSecrets(withoutPassword);
}

/** An error's message, redacted: for the places that print or log what a driver or SDK said. */
export function redactedMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return redactSecrets(message);
}
