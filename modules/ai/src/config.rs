//! The assistant's settings, as the server hands them over (the server reads the
//! environment; this crate parses what it was given): the provider list, the price table
//! and the platform's monthly cap.

use std::time::Duration;

/// One entry of `ILS_AI_PROVIDERS`: `kind[:model][;option=value…]`, e.g.
/// `anthropic:claude-sonnet-4-5`, `openai:llama3;base_url=http://127.0.0.1:11434/v1`,
/// `scripted;script=/path/turns.json`, `builtin`. Options: `base_url`, `api_key`,
/// `timeout_ms`, `script` (a scripted model's turns, a JSON file).
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSpec {
    pub kind: Kind,
    pub model: String,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub timeout: Option<Duration>,
    pub script: Option<String>,
}

impl std::fmt::Debug for ProviderSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSpec")
            .field("kind", &self.kind)
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "(set)"))
            .field("timeout", &self.timeout)
            .field("script", &self.script)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    OpenAi,
    Anthropic,
    Builtin,
    Scripted,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OpenAi => "openai",
            Kind::Anthropic => "anthropic",
            Kind::Builtin => "builtin",
            Kind::Scripted => "scripted",
        }
    }
}

/// Parses `ILS_AI_PROVIDERS` (comma-separated entries, tried in order).
pub fn parse_providers(spec: &str) -> Result<Vec<ProviderSpec>, String> {
    let mut out = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.split(';');
        let head = parts.next().unwrap_or_default().trim();
        let (kind, model) = match head.split_once(':') {
            Some((k, m)) => (k.trim(), m.trim().to_owned()),
            None => (head, String::new()),
        };
        let kind = match kind.to_ascii_lowercase().as_str() {
            "openai" => Kind::OpenAi,
            "anthropic" => Kind::Anthropic,
            "builtin" => Kind::Builtin,
            "scripted" => Kind::Scripted,
            other => {
                return Err(format!(
                    "unknown assistant provider {other:?} (openai, anthropic, builtin, scripted)"
                ));
            }
        };
        let model = match (kind, model.is_empty()) {
            (Kind::OpenAi | Kind::Anthropic, true) => {
                return Err(format!(
                    "{} needs a model: {}:MODEL",
                    kind.as_str(),
                    kind.as_str()
                ));
            }
            (Kind::Builtin, _) => "builtin".to_owned(),
            (Kind::Scripted, true) => "scripted".to_owned(),
            _ => model,
        };
        let mut p = ProviderSpec {
            kind,
            model,
            base_url: None,
            api_key: None,
            timeout: None,
            script: None,
        };
        for option in parts.map(str::trim).filter(|o| !o.is_empty()) {
            let (key, value) = option
                .split_once('=')
                .ok_or_else(|| "a provider option is not key=value".to_owned())?;
            let value = value.trim().to_owned();
            match key.trim() {
                "base_url" => p.base_url = Some(value),
                "api_key" => p.api_key = Some(value),
                "timeout_ms" => {
                    let ms: u64 = value
                        .parse()
                        .map_err(|_| format!("timeout_ms must be a number, not {value:?}"))?;
                    p.timeout = Some(Duration::from_millis(ms.max(1)));
                }
                "script" => p.script = Some(value),
                other => return Err(format!("unknown provider option {other:?}")),
            }
        }
        out.push(p);
    }
    if out.is_empty() {
        return Err("ILS_AI_PROVIDERS names no provider".into());
    }
    Ok(out)
}

/// What a model's tokens cost, in US dollars per million tokens, input and output.
#[derive(Clone, Debug, PartialEq)]
pub struct Price {
    pub model: String,
    pub input_per_million: f64,
    pub output_per_million: f64,
}

/// Prices by model name; a model matches the longest entry its name starts with
/// (`gpt-4o-mini-2024-07-18` is priced as `gpt-4o-mini`).
#[derive(Clone, Debug)]
pub struct PriceTable(Vec<Price>);

/// List prices of common models (USD per million tokens, input/output), as published by
/// their vendors in 2025; `ILS_AI_PRICES` adds or replaces entries.
pub const DEFAULT_PRICES: &[(&str, f64, f64)] = &[
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4o", 2.50, 10.00),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1", 2.00, 8.00),
    ("gpt-5-mini", 0.25, 2.00),
    ("gpt-5", 1.25, 10.00),
    ("claude-haiku-4-5", 1.00, 5.00),
    ("claude-3-5-haiku", 0.80, 4.00),
    ("claude-sonnet-4-5", 3.00, 15.00),
    ("claude-sonnet-4", 3.00, 15.00),
    ("claude-opus-4-1", 15.00, 75.00),
    ("claude-opus-4", 15.00, 75.00),
];

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable(
            DEFAULT_PRICES
                .iter()
                .map(|(m, i, o)| Price {
                    model: (*m).to_owned(),
                    input_per_million: *i,
                    output_per_million: *o,
                })
                .collect(),
        )
    }
}

impl PriceTable {
    /// The defaults with `entries` (`model=input/output`, USD per million tokens) added
    /// or replacing theirs.
    pub fn with(entries: &[String]) -> Result<PriceTable, String> {
        let mut table = PriceTable::default();
        for e in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let bad = || format!("price {e:?} is not MODEL=INPUT/OUTPUT (USD per million tokens)");
            let (model, prices) = e.split_once('=').ok_or_else(bad)?;
            let (i, o) = prices.split_once('/').ok_or_else(bad)?;
            let (i, o): (f64, f64) = (
                i.trim().parse().map_err(|_| bad())?,
                o.trim().parse().map_err(|_| bad())?,
            );
            if !(i >= 0.0 && o >= 0.0 && i.is_finite() && o.is_finite()) {
                return Err(bad());
            }
            table.0.retain(|p| p.model != model.trim());
            table.0.push(Price {
                model: model.trim().to_owned(),
                input_per_million: i,
                output_per_million: o,
            });
        }
        Ok(table)
    }

    pub fn price_of(&self, model: &str) -> Option<&Price> {
        self.0
            .iter()
            .filter(|p| model.starts_with(&p.model))
            .max_by_key(|p| p.model.len())
    }

    /// What `usage` of `model` cost, in micro-dollars (rounded up: a call is never free
    /// by rounding). An unpriced model costs nothing.
    pub fn cost_micros(&self, model: &str, usage: crate::provider::Usage) -> i64 {
        self.cost_of(&[model], usage)
    }

    /// The cost by the first of `names` that has a price: the name a provider reported,
    /// then the name it was configured with (a local server may report any name).
    pub fn cost_of(&self, names: &[&str], usage: crate::provider::Usage) -> i64 {
        let usage = usage.bounded();
        match names.iter().find_map(|n| self.price_of(n)) {
            None => 0,
            Some(p) => (usage.input_tokens as f64 * p.input_per_million
                + usage.output_tokens as f64 * p.output_per_million)
                .ceil() as i64,
        }
    }

    pub fn entries(&self) -> &[Price] {
        &self.0
    }
}

/// Everything the assistant is configured with (its `Debug` hides the API keys).
#[derive(Clone)]
pub struct AiSettings {
    pub providers: Vec<ProviderSpec>,
    /// Per provider kind, when an entry names none: base URL and API key.
    pub openai_base_url: String,
    pub openai_api_key: Option<String>,
    pub anthropic_base_url: String,
    pub anthropic_api_key: Option<String>,
    /// A provider's timeout when its entry names none.
    pub timeout: Duration,
    pub prices: PriceTable,
    /// Each company's monthly spend limit, in micro-dollars; a company may lower its own.
    pub monthly_cap_micros: i64,
    /// The built-in assistant answers what it recognises before any model is asked.
    pub builtin_first: bool,
    /// The most tokens a model may write in one round.
    pub max_output_tokens: u32,
}

impl std::fmt::Debug for AiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiSettings")
            .field("providers", &self.providers)
            .field("openai_base_url", &self.openai_base_url)
            .field("anthropic_base_url", &self.anthropic_base_url)
            .field("timeout", &self.timeout)
            .field("monthly_cap_micros", &self.monthly_cap_micros)
            .field("builtin_first", &self.builtin_first)
            .finish_non_exhaustive()
    }
}

impl Default for AiSettings {
    fn default() -> Self {
        AiSettings {
            providers: vec![ProviderSpec {
                kind: Kind::Builtin,
                model: "builtin".into(),
                base_url: None,
                api_key: None,
                timeout: None,
                script: None,
            }],
            openai_base_url: "https://api.openai.com/v1".into(),
            openai_api_key: None,
            anthropic_base_url: "https://api.anthropic.com".into(),
            anthropic_api_key: None,
            timeout: Duration::from_secs(30),
            prices: PriceTable::default(),
            monthly_cap_micros: 50_000_000,
            builtin_first: true,
            max_output_tokens: 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Usage;

    #[test]
    fn the_provider_list_parses_in_order_with_options() {
        let p = parse_providers(
            "anthropic:claude-sonnet-4-5, openai:gpt-4o-mini;base_url=http://127.0.0.1:9/v1;timeout_ms=250,builtin",
        )
        .unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].kind, Kind::Anthropic);
        assert_eq!(p[0].model, "claude-sonnet-4-5");
        assert_eq!(p[1].base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(p[1].timeout, Some(Duration::from_millis(250)));
        assert_eq!(p[2].kind, Kind::Builtin);
        assert!(
            parse_providers("openai")
                .unwrap_err()
                .contains("needs a model")
        );
        assert!(parse_providers("gemini:x").unwrap_err().contains("unknown"));
        assert!(parse_providers("openai:x;colour=red").is_err());
        assert!(parse_providers(" , ").is_err());
    }

    #[test]
    fn prices_match_the_longest_prefix_and_round_up() {
        let t = PriceTable::with(&["local-model=1/2".into(), "gpt-4o=3/4".into()]).unwrap();
        assert_eq!(
            t.price_of("gpt-4o-mini-2024-07-18").unwrap().model,
            "gpt-4o-mini"
        );
        assert_eq!(t.price_of("gpt-4o-2024").unwrap().input_per_million, 3.0);
        let u = Usage {
            input_tokens: 1000,
            output_tokens: 100,
        };
        // 1000 x 0.15 + 100 x 0.60 = 210 micro-dollars.
        assert_eq!(t.cost_micros("gpt-4o-mini", u), 210);
        assert_eq!(
            t.cost_micros(
                "local-model",
                Usage {
                    input_tokens: 1,
                    output_tokens: 0
                }
            ),
            1
        );
        assert_eq!(t.cost_micros("unknown", u), 0);
        assert!(PriceTable::with(&["x=1".into()]).is_err());
        assert!(PriceTable::with(&["x=-1/2".into()]).is_err());
    }
}
