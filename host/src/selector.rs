//! Kubernetes label and field selectors, as the API server parses them, for the list host
//! calls answered from an [`ObjectSet`](crate::ObjectSet).
//!
//! Label selectors: comma-joined requirements `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
//! `a notin (x)`, `a` (exists), `!a` (does not exist), `a>1`, `a<1`. Field selectors:
//! `metadata.name` and `metadata.namespace` with `=`, `==`, `!=`; other fields are refused with
//! an error, since offline there is no API server to know them.

use std::collections::BTreeMap;

/// An object's labels, as a selector reads them (a label whose value is not a string is none).
pub(crate) type Labels = BTreeMap<String, String>;

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct LabelSelector(Vec<Requirement>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    DoesNotExist(String),
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Comma,
    Open,
    Close,
    Equals,
    DoubleEquals,
    NotEquals,
    Not,
    Greater,
    Less,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            ',' => Token::Comma,
            '(' => Token::Open,
            ')' => Token::Close,
            '<' => Token::Less,
            '>' => Token::Greater,
            '=' if chars.peek() == Some(&'=') => {
                chars.next();
                Token::DoubleEquals
            }
            '=' => Token::Equals,
            '!' if chars.peek() == Some(&'=') => {
                chars.next();
                Token::NotEquals
            }
            '!' => Token::Not,
            c => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || ",()<>=!".contains(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                Token::Word(word)
            }
        };
        tokens.push(token);
    }
    tokens
}

fn check_key(key: &str) -> Result<String, String> {
    let valid = !key.is_empty()
        && key.len() <= 317
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if valid {
        Ok(key.to_owned())
    } else {
        Err(format!("`{key}` is not a valid label key"))
    }
}

fn check_value(value: &str) -> Result<String, String> {
    let valid = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!("`{value}` is not a valid label value"))
    }
}

impl LabelSelector {
    /// Parses a selector such as `app=web,tier in (front,back),!legacy`.
    pub(crate) fn parse(text: &str) -> Result<LabelSelector, String> {
        Self::parse_tokens(&tokenize(text))
            .map_err(|reason| format!("invalid label selector `{text}`: {reason}"))
    }

    fn parse_tokens(tokens: &[Token]) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        let mut rest = tokens;
        while !rest.is_empty() {
            let (requirement, after) = parse_requirement(rest)?;
            requirements.push(requirement);
            rest = match after {
                [] => after,
                [Token::Comma, more @ ..] if !more.is_empty() => more,
                [Token::Comma] => return Err("trailing comma".into()),
                [other, ..] => return Err(format!("expected `,` before {other:?}")),
            };
        }
        Ok(LabelSelector(requirements))
    }

    /// True when the object's labels satisfy every requirement.
    pub(crate) fn matches(&self, labels: &Labels) -> bool {
        let label = |key: &str| labels.get(key).map(String::as_str);
        self.0.iter().all(|requirement| match requirement {
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::DoesNotExist(k) => label(k).is_none(),
            Requirement::Equals(k, v) => label(k) == Some(v),
            Requirement::NotEquals(k, v) => label(k) != Some(v),
            Requirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::GreaterThan(k, n) => label(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l > *n),
            Requirement::LessThan(k, n) => label(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l < *n),
        })
    }
}

/// One requirement at the start of `tokens`, and the tokens after it.
fn parse_requirement(tokens: &[Token]) -> Result<(Requirement, &[Token]), String> {
    let value_at = |rest: &[Token]| -> Result<(String, usize), String> {
        match rest.first() {
            Some(Token::Word(v)) => Ok((check_value(v)?, 1)),
            None | Some(Token::Comma) => Ok((String::new(), 0)),
            Some(other) => Err(format!("expected a value, found {other:?}")),
        }
    };
    match tokens {
        [Token::Not, Token::Word(key), rest @ ..] => {
            Ok((Requirement::DoesNotExist(check_key(key)?), rest))
        }
        [Token::Word(key), rest @ ..] => {
            let key = check_key(key)?;
            match rest {
                [] | [Token::Comma, ..] => Ok((Requirement::Exists(key), rest)),
                [Token::Equals | Token::DoubleEquals, after @ ..] => {
                    let (value, used) = value_at(after)?;
                    Ok((Requirement::Equals(key, value), &after[used..]))
                }
                [Token::NotEquals, after @ ..] => {
                    let (value, used) = value_at(after)?;
                    Ok((Requirement::NotEquals(key, value), &after[used..]))
                }
                [Token::Word(op), Token::Open, after @ ..] if op == "in" || op == "notin" => {
                    let (values, after) = parse_set(after)?;
                    let requirement = if op == "in" {
                        Requirement::In(key, values)
                    } else {
                        Requirement::NotIn(key, values)
                    };
                    Ok((requirement, after))
                }
                [
                    op @ (Token::Greater | Token::Less),
                    Token::Word(n),
                    after @ ..,
                ] => {
                    let n: i64 = n
                        .parse()
                        .map_err(|_| format!("`{n}` is not an integer, as `>` and `<` need"))?;
                    let requirement = if *op == Token::Greater {
                        Requirement::GreaterThan(key, n)
                    } else {
                        Requirement::LessThan(key, n)
                    };
                    Ok((requirement, after))
                }
                [other, ..] => Err(format!(
                    "expected `=`, `==`, `!=`, `in (...)`, `notin (...)`, `>` or `<` after `{key}`, found {other:?}"
                )),
            }
        }
        [other, ..] => Err(format!("expected a label key, found {other:?}")),
        [] => Err("empty requirement".into()),
    }
}

/// `x, y)` → the values and the tokens after `)`.
fn parse_set(tokens: &[Token]) -> Result<(Vec<String>, &[Token]), String> {
    let mut values = Vec::new();
    let mut rest = tokens;
    loop {
        match rest {
            [Token::Word(v), more @ ..] => {
                values.push(check_value(v)?);
                rest = more;
            }
            [Token::Close, ..] if values.is_empty() => {
                return Err("a set needs at least one value".into());
            }
            _ => return Err("expected a value in the set".into()),
        }
        match rest {
            [Token::Comma, more @ ..] => rest = more,
            [Token::Close, more @ ..] => return Ok((values, more)),
            _ => return Err("expected `,` or `)` in the set".into()),
        }
    }
}

/// A parsed field selector over `metadata.name` and `metadata.namespace`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FieldSelector(Vec<(FieldPath, bool, String)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldPath {
    Name,
    Namespace,
}

impl FieldSelector {
    /// Parses `metadata.name=x,metadata.namespace!=y`.
    pub(crate) fn parse(text: &str) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid field selector `{text}`: `{term}` has no `=`, `==` or `!=`"
                ));
            };
            let path = match field.trim() {
                "metadata.name" => FieldPath::Name,
                "metadata.namespace" => FieldPath::Namespace,
                other => {
                    return Err(format!(
                        "field selector on `{other}` is not supported offline; aksid supports \
                         metadata.name and metadata.namespace"
                    ));
                }
            };
            terms.push((path, equal, value.trim().to_owned()));
        }
        Ok(FieldSelector(terms))
    }

    /// True when an object of that namespace ("" when cluster-scoped) and name satisfies every
    /// term.
    pub(crate) fn matches(&self, namespace: &str, name: &str) -> bool {
        self.0.iter().all(|(path, equal, value)| {
            let actual = match path {
                FieldPath::Name => name,
                FieldPath::Namespace => namespace,
            };
            (actual == value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn matches(selector: &str, labels: Value) -> bool {
        let labels: Labels = serde_json::from_value(labels).unwrap();
        LabelSelector::parse(selector).unwrap().matches(&labels)
    }

    #[test]
    fn equality_requirements() {
        let l = json!({"app": "web", "tier": "front"});
        assert!(matches("app=web", l.clone()));
        assert!(matches("app==web", l.clone()));
        assert!(matches(" app = web , tier==front ", l.clone()));
        assert!(!matches("app=api", l.clone()));
        assert!(matches("app!=api", l.clone()));
        assert!(!matches("app!=web", l.clone()));
        assert!(
            matches("missing!=x", l.clone()),
            "!= matches an absent label"
        );
        assert!(
            matches("", l.clone()),
            "the empty selector matches everything"
        );
        assert!(matches("empty=", json!({"empty": ""})));
    }

    #[test]
    fn set_and_existence_requirements() {
        let l = json!({"app": "web", "azure.workload.identity/use": "true"});
        assert!(matches("app in (web, api)", l.clone()));
        assert!(!matches("app in (api)", l.clone()));
        assert!(matches("app notin (api,db)", l.clone()));
        assert!(!matches("app notin (web)", l.clone()));
        assert!(
            matches("missing notin (web)", l.clone()),
            "notin matches an absent label"
        );
        assert!(matches("azure.workload.identity/use", l.clone()));
        assert!(matches("!legacy", l.clone()));
        assert!(!matches("!app", l.clone()));
        assert!(matches("app,!legacy,app in (web)", l));
    }

    #[test]
    fn numeric_requirements() {
        assert!(matches("replicas>2", json!({"replicas": "3"})));
        assert!(!matches("replicas<2", json!({"replicas": "3"})));
        assert!(!matches("replicas>2", json!({"replicas": "x"})));
    }

    #[test]
    fn malformed_selectors_are_refused_with_the_selector() {
        for bad in [
            "app=",
            "app in ()",
            "app in (a",
            "=x",
            "app,",
            "app in",
            "a b",
            "x>y",
            "!",
        ] {
            let result = LabelSelector::parse(bad);
            if bad == "app=" {
                assert!(result.is_ok(), "an empty value is allowed");
                continue;
            }
            let err = result.expect_err(bad);
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
        assert!(LabelSelector::parse("bad key=x").is_err());
        assert!(LabelSelector::parse("app=a b").is_err());
    }

    #[test]
    fn field_selectors_on_name_and_namespace() {
        let matches = |s: &str| FieldSelector::parse(s).unwrap().matches("ns", "n");
        assert!(matches("metadata.name=n"));
        assert!(matches("metadata.name==n,metadata.namespace=ns"));
        assert!(matches("metadata.namespace!=other"));
        assert!(!matches("metadata.name!=n"));
        assert!(matches(""));
        let err = FieldSelector::parse("spec.nodeName=x").unwrap_err();
        assert!(
            err.contains("spec.nodeName") && err.contains("not supported offline"),
            "{err}"
        );
        assert!(FieldSelector::parse("metadata.name").is_err());
    }
}
