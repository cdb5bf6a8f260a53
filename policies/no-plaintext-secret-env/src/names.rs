//! Environment variable names that say "this holds a secret".
//!
//! A name is split into tokens on `_`, `-`, `.` (any non-alphanumeric character) and on
//! camelCase boundaries (`dbPassword` → `db` `Password`, `APIKey` → `API` `Key`), and tokens are
//! compared whole and case-insensitively, so `SECRETS_DIR` does not contain `SECRET`-the-value
//! and `KMS_KEY_ALIAS` does not contain `KEY`. A name is sensitive when:
//!
//! * its **last** token is not a reference or metadata word (`FILE`, `PATH`, `DIR`, `URL`,
//!   `NAME`, `ID`, `REF`, `AUDIENCE`, `TYPE`, `MODE`, `TTL`, … see [`NOT_SECRET_SUFFIXES`]):
//!   `*_PASSWORD_FILE`, `VAULT_SECRET_PATH`, `TOKEN_AUDIENCE` and `AWS_ACCESS_KEY_ID` name
//!   where a secret is, or something about it, not the secret itself; and
//! * some token is a secret word (`PASSWORD`, `PASSWD`, `PWD`, `SECRET`, `TOKEN`, `APIKEY`,
//!   `CREDENTIALS`, `BEARER`, `JWT`, `SAS`, `PAT`, …, or a glued form ending in one, such as
//!   `DBPASSWORD` or `CLIENTSECRET`), or `KEY` preceded by a qualifier (`API_KEY`, `ACCESS_KEY`,
//!   `PRIVATE_KEY`, `ACCOUNT_KEY`, `SIGNING_KEY`, …), or `CONNECTION_STRING`, or `AUTH`/`PASS`/
//!   `AUTHORIZATION` as the last token (`REDIS_AUTH` yes, `AUTH_MODE` no), or `AZURE_…_KEY`.
//!
//! A bare `KEY` is not enough here (`PARTITION_KEY`, `CACHE_KEY` are not secrets).
//!
//! Two narrower classes get their own rules in [`crate::env`]:
//!
//! * [`password_word`]: the name *ends* in a password word (`DB_PASSWORD`,
//!   `RABBITMQ_DEFAULT_PASS`, `MYSQL_PWD`), so any literal it holds is the password;
//! * [`is_key_name`]: the name ends in `KEY` as Azure samples write key variables
//!   (`COSMOS_KEY`, `OPENAIKEY`, `CosmosDb__Key`), judged only on key-shaped values.

/// Last tokens that make the variable a reference to a secret or metadata about it.
const NOT_SECRET_SUFFIXES: &[&str] = &[
    "file",
    "files",
    "path",
    "paths",
    "dir",
    "dirs",
    "directory",
    "folder",
    "location",
    "mount",
    "url",
    "urls",
    "uri",
    "uris",
    "endpoint",
    "endpoints",
    "host",
    "hostname",
    "server",
    "port",
    "addr",
    "address",
    "name",
    "names",
    "id",
    "ids",
    "ref",
    "refs",
    "reference",
    "arn",
    "alias",
    "audience",
    "audiences",
    "aud",
    "issuer",
    "scope",
    "scopes",
    "header",
    "type",
    "kind",
    "mode",
    "provider",
    "source",
    "class",
    "enabled",
    "enable",
    "disabled",
    "disable",
    "required",
    "expiry",
    "expiration",
    "expires",
    "expire",
    "ttl",
    "lifetime",
    "timeout",
    "duration",
    "interval",
    "period",
    "length",
    "len",
    "size",
    "count",
    "max",
    "min",
    "limit",
    "version",
    "format",
    "algorithm",
    "alg",
    "user",
    "username",
    "email",
    "prefix",
    "suffix",
    "field",
    "policy",
    "rotation",
    "template",
    "regex",
    "pattern",
    "namespace",
    "region",
    "zone",
    "label",
    "prompt",
    "message",
    "description",
    "date",
    "time",
    "timestamp",
    "at",
    "since",
    "until",
    "sha",
    "sha256",
    "checksum",
    "digest",
    "fingerprint",
    "thumbprint",
    "volume",
];

/// Tokens that alone say the value is secret material.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "apikey",
    "apikeys",
    "accesskey",
    "secretkey",
    "privatekey",
    "clientsecret",
    "connectionstring",
    "connstring",
    "connstr",
    "credential",
    "credentials",
    "creds",
    "cred",
    "bearer",
    "jwt",
    "sas",
    "pat",
];

/// Endings that make a glued token secret: `DBPASSWORD`, `GITHUBTOKEN`, `APPSECRET`.
const GLUED_ENDINGS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "credentials",
    "credential",
];

/// Words that turn a following `KEY` into a secret: `API_KEY`, `STORAGE_ACCOUNT_KEY`.
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "access",
    "secret",
    "private",
    "account",
    "storage",
    "shared",
    "master",
    "signing",
    "sign",
    "encryption",
    "encrypt",
    "session",
    "subscription",
    "primary",
    "secondary",
    "admin",
    "auth",
    "hmac",
    "license",
    "licence",
    "function",
    "functions",
    "client",
    "app",
    "service",
    "webhook",
    "cookie",
    "crypto",
    "cipher",
    "aes",
    "rsa",
    "ssh",
    "gpg",
    "pgp",
    "jwt",
    "root",
    "deploy",
    "deployment",
    "registration",
    "bot",
];

/// Tokens that are secret words only at the end of the name.
const LAST_ONLY_WORDS: &[&str] = &["auth", "pass", "pw", "authorization"];

fn is_one_of(token: &str, words: &[&str]) -> bool {
    words.iter().any(|w| token.eq_ignore_ascii_case(w))
}

/// `token` without the case-insensitive `suffix`, if it ends with it.
fn strip_suffix_ignore_case<'a>(token: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = token.len().checked_sub(suffix.len())?;
    let (stem, end) = (token.get(..cut)?, token.get(cut..)?);
    end.eq_ignore_ascii_case(suffix).then_some(stem)
}

/// Most tokens kept per name; a longer name keeps its first tokens and its last one.
const MAX_TOKENS: usize = 24;

/// The tokens of a name, without allocating.
pub(crate) struct Tokens<'a> {
    items: [&'a str; MAX_TOKENS],
    len: usize,
}

impl<'a> Tokens<'a> {
    fn push(&mut self, token: &'a str) {
        if self.len < MAX_TOKENS {
            self.items[self.len] = token;
            self.len += 1;
        } else {
            self.items[MAX_TOKENS - 1] = token;
        }
    }

    pub(crate) fn as_slice(&self) -> &[&'a str] {
        &self.items[..self.len]
    }
}

/// Splits a name into tokens on non-alphanumeric characters and camelCase boundaries.
pub(crate) fn tokens(name: &str) -> Tokens<'_> {
    let b = name.as_bytes();
    let mut out = Tokens {
        items: [""; MAX_TOKENS],
        len: 0,
    };
    let mut start = None;
    for (i, &c) in b.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if let Some(s) = start.take() {
                out.push(&name[s..i]);
            }
            continue;
        }
        if let Some(s) = start
            && c.is_ascii_uppercase()
        {
            let prev = b[i - 1];
            let next_lower = b.get(i + 1).is_some_and(u8::is_ascii_lowercase);
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push(&name[s..i]);
                start = Some(i);
            }
        }
        start.get_or_insert(i);
    }
    if let Some(s) = start {
        out.push(&name[s..]);
    }
    out
}

/// True for names of public key material (`JWT_PUBLIC_KEY`, `OIDC_PUBKEY`): published on
/// purpose, so not a secret even next to a secret word.
fn is_public_key_name(tokens: &[&str]) -> bool {
    match last_word(tokens) {
        Some((word, previous)) => {
            word.eq_ignore_ascii_case("pubkey")
                || (["key", "keys"].iter().any(|k| word.eq_ignore_ascii_case(k))
                    && previous.is_some_and(|p| p.eq_ignore_ascii_case("public")))
        }
        None => false,
    }
}

/// The secret word(s) a name contains, upper-cased for the message (`PASSWORD`, `API_KEY`),
/// or `None` when the name does not say it holds a secret.
pub(crate) fn secret_word(name: &str) -> Option<String> {
    let tokens = tokens(name);
    let tokens = tokens.as_slice();
    let last = tokens.len().checked_sub(1)?;
    if is_one_of(tokens[last], NOT_SECRET_SUFFIXES) || is_public_key_name(tokens) {
        return None;
    }
    let upper = |parts: &[&str]| parts.join("_").to_ascii_uppercase();
    tokens.iter().enumerate().find_map(|(i, &token)| {
        let previous = i.checked_sub(1).map(|p| tokens[p]);
        if is_one_of(token, SECRET_WORDS) || (i == last && is_one_of(token, LAST_ONLY_WORDS)) {
            return Some(upper(&[token]));
        }
        if let Some(ending) = GLUED_ENDINGS
            .iter()
            .find(|e| strip_suffix_ignore_case(token, e).is_some_and(|stem| !stem.is_empty()))
        {
            return Some(ending.to_ascii_uppercase());
        }
        let key_stem = strip_suffix_ignore_case(token, "keys")
            .or_else(|| strip_suffix_ignore_case(token, "key"));
        match (key_stem, previous) {
            (Some(""), Some(p)) if is_one_of(p, KEY_QUALIFIERS) => return Some(upper(&[p, token])),
            (Some(stem), _) if !stem.is_empty() && is_one_of(stem, KEY_QUALIFIERS) => {
                return Some(upper(&[token]));
            }
            (Some(""), _) if i == last && tokens[0].eq_ignore_ascii_case("azure") => {
                return Some(upper(tokens));
            }
            _ => {}
        }
        let string_of_connection = (token.eq_ignore_ascii_case("string")
            || token.eq_ignore_ascii_case("str"))
            && previous.is_some_and(|p| {
                p.eq_ignore_ascii_case("connection") || p.eq_ignore_ascii_case("conn")
            });
        string_of_connection.then(|| upper(&[previous.unwrap_or_default(), token]))
    })
}

/// Last words that name a password: `DB_PASSWORD`, `RABBITMQ_DEFAULT_PASS`, `MYSQL_PWD`.
const PASSWORD_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "pwd",
    "pass",
    "pw",
    "passphrase",
];

/// Endings that make a glued last word a password (`DBPASSWORD`); `pass` and `pwd` are left
/// out because too many words end in them (`BYPASS`, `COMPASS`).
const PASSWORD_GLUED_ENDINGS: &[&str] = &["password", "passwd", "passphrase"];

/// Words before a last `KEY` that make it a data or lookup key, or public material, not a
/// secret: `PARTITION_KEY`, `CACHE_KEY`, `JWT_PUBLIC_KEY`.
const NOT_SECRET_KEY_STEMS: &[&str] = &[
    "partition",
    "sort",
    "row",
    "range",
    "routing",
    "cache",
    "idempotency",
    "foreign",
    "shard",
    "lookup",
    "dedup",
    "dedupe",
    "unique",
    "index",
    "composite",
    "tag",
    "label",
    "metric",
    "public",
    "pub",
];

/// The last word of a name and the token before it, skipping trailing digits and tokens that
/// are only digits, so `DB_PASSWORD_2`, `PASSWORD2` and `KEY1` end in their word.
fn last_word<'a>(tokens: &[&'a str]) -> Option<(&'a str, Option<&'a str>)> {
    let end = tokens
        .iter()
        .rposition(|t| !t.bytes().all(|b| b.is_ascii_digit()))?;
    let word = tokens[end].trim_end_matches(|c: char| c.is_ascii_digit());
    Some((word, end.checked_sub(1).map(|i| tokens[i])))
}

/// The password word a name ends in, upper-cased for the message (`PASSWORD`, `PASS`,
/// `PWD`), or `None`. Only the last word counts: `PASSWORD_MIN_LENGTH` and
/// `PASSWORD_COMPLEXITY` describe a password policy, they do not hold a password.
pub(crate) fn password_word(name: &str) -> Option<String> {
    let tokens = tokens(name);
    let (word, _) = last_word(tokens.as_slice())?;
    if is_one_of(word, PASSWORD_WORDS) {
        return Some(word.to_ascii_uppercase());
    }
    PASSWORD_GLUED_ENDINGS
        .iter()
        .find(|e| strip_suffix_ignore_case(word, e).is_some_and(|stem| !stem.is_empty()))
        .map(|e| e.to_ascii_uppercase())
}

/// True when a name ends in `KEY` as Azure samples write key variables: `COSMOS_KEY`,
/// `EVENTHUB_KEY`, `OPENAIKEY`, `searchKey`, the .NET configuration forms `CosmosDb__Key` and
/// `CosmosDb:Key`, and `KEY_2`. Data and public keys (`PARTITION_KEY`, `JWT_PUBLIC_KEY`) are
/// not. Such names are common for non-secrets too, so the rule also needs a key-shaped value.
pub(crate) fn is_key_name(name: &str) -> bool {
    let tokens = tokens(name);
    let Some((word, previous)) = last_word(tokens.as_slice()) else {
        return false;
    };
    let stem = ["keys", "key"]
        .iter()
        .find_map(|k| strip_suffix_ignore_case(word, k));
    match stem {
        Some("") => previous.is_none_or(|p| !is_one_of(p, NOT_SECRET_KEY_STEMS)),
        Some(glued) => !is_one_of(glued, NOT_SECRET_KEY_STEMS),
        None => false,
    }
}

/// True for names of AWS secret access keys (`AWS_SECRET_ACCESS_KEY`, `awsSecretKey`).
pub(crate) fn is_aws_secret_key_name(name: &str) -> bool {
    let tokens = tokens(name);
    let has = |w: &str| tokens.as_slice().iter().any(|t| t.eq_ignore_ascii_case(w));
    has("aws") && (has("secret") || has("secretkey"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::upper_snake("DB_PASSWORD", &["DB", "PASSWORD"])]
    #[case::camel("dbPassword", &["db", "Password"])]
    #[case::acronym_then_word("APIKey", &["API", "Key"])]
    #[case::dotnet_double_underscore("CosmosDB__AccountKey", &["Cosmos", "DB", "Account", "Key"])]
    #[case::kebab_and_dots("x-api.key", &["x", "api", "key"])]
    #[case::digits_stay("OAUTH2_TOKEN", &["OAUTH2", "TOKEN"])]
    #[case::digit_then_upper("s3Secret", &["s3", "Secret"])]
    #[case::empty("", &[])]
    #[case::only_separators("__", &[])]
    fn splits_names_into_tokens(#[case] name: &str, #[case] expected: &[&str]) {
        assert_eq!(tokens(name).as_slice(), expected);
    }

    #[rstest]
    #[case::password("DB_PASSWORD", Some("PASSWORD"))]
    #[case::camel_client_secret("clientSecret", Some("SECRET"))]
    #[case::azure_client_secret("AZURE_CLIENT_SECRET", Some("SECRET"))]
    #[case::glued("MYSQLPASSWORD", Some("PASSWORD"))]
    #[case::api_key("OPENAI_API_KEY", Some("API_KEY"))]
    #[case::glued_api_key("APIKEY", Some("APIKEY"))]
    #[case::account_key("CosmosDB__AccountKey", Some("ACCOUNT_KEY"))]
    #[case::glued_account_key("STORAGE_ACCOUNTKEY", Some("ACCOUNTKEY"))]
    #[case::access_key("AWS_SECRET_ACCESS_KEY", Some("SECRET"))]
    #[case::private_key("TLS_PRIVATE_KEY", Some("PRIVATE_KEY"))]
    #[case::connection_string("STORAGE_CONNECTION_STRING", Some("CONNECTION_STRING"))]
    #[case::conn_str("ConnStr", Some("CONN_STR"))]
    #[case::azure_key("AZURE_OPENAI_KEY", Some("AZURE_OPENAI_KEY"))]
    #[case::redis_auth("REDIS_AUTH", Some("AUTH"))]
    #[case::smtp_pass("SMTP_PASS", Some("PASS"))]
    #[case::sas("AZURE_SAS", Some("SAS"))]
    #[case::token_v2("GITHUB_TOKEN_V2", Some("TOKEN"))]
    #[case::secret_key_base("SECRET_KEY_BASE", Some("SECRET"))]
    #[case::bearer("BEARER", Some("BEARER"))]
    #[case::secrets_dir("SECRETS_DIR", None)]
    #[case::password_file("MARIADB_MASTER_ROOT_PASSWORD_FILE", None)]
    #[case::secret_path("METALLB_ML_SECRET_KEY_PATH", None)]
    #[case::secret_name("SECRET_NAME", None)]
    #[case::token_audience("TOKEN_AUDIENCE", None)]
    #[case::federated_token_file("AZURE_FEDERATED_TOKEN_FILE", None)]
    #[case::access_key_id("AWS_ACCESS_KEY_ID", None)]
    #[case::kms_key_alias("KMS_KEY_ALIAS", None)]
    #[case::key_name("KEY_NAME", None)]
    #[case::bare_key("PARTITION_KEY", None)]
    #[case::auth_mode("AUTH_MODE", None)]
    #[case::auth_not_last("AUTH_ISSUER_HOST", None)]
    #[case::passthrough("PASS_THROUGH", None)]
    #[case::authority_host("AZURE_AUTHORITY_HOST", None)]
    #[case::client_id("AZURE_CLIENT_ID", None)]
    #[case::keyvault_url("KEYVAULT_URL", None)]
    #[case::proxy_port("PROXY_PORT", None)]
    #[case::tokenizer("TOKENIZER_MODEL", None)]
    #[case::jwt_public_key("JWT_PUBLIC_KEY", None)]
    #[case::signing_pubkey("TOKEN_SIGNING_PUBKEY", None)]
    #[case::empty("", None)]
    fn recognises_secret_names(#[case] name: &str, #[case] word: Option<&str>) {
        assert_eq!(secret_word(name).as_deref(), word, "{name}");
    }

    #[rstest]
    #[case::db_password("DB_PASSWORD", Some("PASSWORD"))]
    #[case::rabbitmq_pass("RABBITMQ_DEFAULT_PASS", Some("PASS"))]
    #[case::grafana_admin_password("GF_SECURITY_ADMIN_PASSWORD", Some("PASSWORD"))]
    #[case::mysql_pwd("MYSQL_PWD", Some("PWD"))]
    #[case::camel("dbPassword", Some("PASSWORD"))]
    #[case::dotnet("ConnectionStrings__Password", Some("PASSWORD"))]
    #[case::glued("MYSQLPASSWORD", Some("PASSWORD"))]
    #[case::numbered("DB_PASSWORD_2", Some("PASSWORD"))]
    #[case::digits_glued("PASSWORD2", Some("PASSWORD"))]
    #[case::passphrase("GPG_PASSPHRASE", Some("PASSPHRASE"))]
    #[case::password_policy("PASSWORD_MIN_LENGTH", None)]
    #[case::password_file("MARIADB_ROOT_PASSWORD_FILE", None)]
    #[case::password_complexity("PASSWORD_COMPLEXITY", None)]
    #[case::bypass("PROXY_BYPASS", None)]
    #[case::username("RABBITMQ_DEFAULT_USER", None)]
    #[case::only_digits("2", None)]
    #[case::empty("", None)]
    fn recognises_password_names(#[case] name: &str, #[case] word: Option<&str>) {
        assert_eq!(password_word(name).as_deref(), word, "{name}");
    }

    #[rstest]
    #[case::cosmos_key("COSMOS_KEY", true)]
    #[case::cosmos_db_key("COSMOS_DB_KEY", true)]
    #[case::eventhub_key("EVENTHUB_KEY", true)]
    #[case::host_key("HOST_KEY", true)]
    #[case::glued("OPENAIKEY", true)]
    #[case::camel("searchKey", true)]
    #[case::dotnet_double_underscore("CosmosDb__Key", true)]
    #[case::dotnet_colon("CosmosDb:Key", true)]
    #[case::numbered("SPEECH_KEY_2", true)]
    #[case::plural("ADMIN_KEYS", true)]
    #[case::bare("KEY", true)]
    #[case::partition_key("PARTITION_KEY", false)]
    #[case::cache_key("CACHE_KEY", false)]
    #[case::glued_sort_key("SORTKEY", false)]
    #[case::public_key("JWT_PUBLIC_KEY", false)]
    #[case::key_header("API_KEY_HEADER", false)]
    #[case::key_vault("KEY_VAULT_NAME", false)]
    #[case::keyboard("KEYBOARD_LAYOUT", false)]
    #[case::empty("", false)]
    fn recognises_key_names(#[case] name: &str, #[case] key: bool) {
        assert_eq!(is_key_name(name), key, "{name}");
    }

    #[test]
    fn very_long_names_keep_their_last_token() {
        let name = format!("{}PASSWORD_FILE", "A_".repeat(100));
        assert_eq!(tokens(&name).as_slice().len(), MAX_TOKENS);
        assert_eq!(tokens(&name).as_slice().last(), Some(&"FILE"));
        assert_eq!(secret_word(&name), None);
    }

    #[test]
    fn aws_secret_key_names() {
        assert!(is_aws_secret_key_name("AWS_SECRET_ACCESS_KEY"));
        assert!(is_aws_secret_key_name("awsSecretKey"));
        assert!(!is_aws_secret_key_name("AWS_ACCESS_KEY_ID"));
        assert!(!is_aws_secret_key_name("SECRET"));
    }
}
