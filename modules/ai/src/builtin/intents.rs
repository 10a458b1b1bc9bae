//! The questions the built-in assistant recognises, and its answers.
//!
//! `recognise` reads a question with plain keyword and pattern matching (lower case,
//! punctuation ignored, the trade's synonyms: "jobs" for orders, "overdue" or "behind" for
//! late, "PO" for purchase order…), picks the tools to call and their arguments (a partner
//! after "at", "with" or "from"; a horizon such as "before Friday", "next week" or "in 10
//! days"; product words; statuses). `render` answers from templates filled only with what
//! the tools returned: every number and name in an answer comes from a tool's result.

use super::Outcome;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde_json::{Value, json};

/// A recognised question: the tools to call (name, arguments), and what to answer with.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub intent: Intent,
    pub calls: Vec<(String, Value)>,
}

/// What a recognised question asks.
#[derive(Clone, Debug, PartialEq)]
pub enum Intent {
    /// Orders past their due date (with the partner named, if any).
    LateOrders { partner: Option<String> },
    /// Orders in some statuses, of a partner, or by number.
    Orders { what: String },
    /// Counts of the company's orders over a period (named as asked: "this month").
    OrderCounts { period: String },
    /// Stock levels (low ones only, or of some products).
    Stock { low_only: bool },
    /// What runs out within a horizon.
    RunsOut,
    /// What to reorder now.
    Reorder,
    /// Purchase orders (the open ones unless other statuses are named).
    PurchaseOrders { what: String },
    /// A draft purchase order prepared for a person to approve.
    DraftPurchaseOrder,
    /// The company's connections.
    Connections,
    /// The directory (labs or suppliers with some specialties).
    Directory { what: String },
    /// Who supplies a product: the connected suppliers' catalogs, then the directory.
    WhoSupplies { product: String },
    /// Prices in the connected suppliers' catalogs.
    Prices { product: String },
}

/// The question in lower case, punctuation as spaces (a point inside a number such as 1.67
/// and a hyphen inside a word such as ORD-000042 kept), single spaces.
fn normalise(question: &str) -> String {
    let chars: Vec<char> = question.chars().collect();
    let mut out = String::with_capacity(question.len());
    for (i, c) in chars.iter().enumerate() {
        let between = |f: fn(char) -> bool| {
            i > 0 && i + 1 < chars.len() && f(chars[i - 1]) && f(chars[i + 1])
        };
        let keep = c.is_alphanumeric()
            || (*c == '.' && between(|x| x.is_ascii_digit()))
            || (*c == '-' && between(|x| x.is_alphanumeric()))
            || (*c == '\'' && between(|x| x.is_alphabetic()));
        if keep {
            out.extend(c.to_lowercase());
        } else {
            out.push(' ');
        }
    }
    let out = out.replace('\'', "");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The question's words, normalised.
struct Q {
    text: String,
    words: Vec<String>,
}

impl Q {
    fn new(question: &str) -> Q {
        let text = normalise(question);
        let words = text.split(' ').map(str::to_owned).collect();
        Q { text, words }
    }

    /// Whether the question holds `phrase` as whole words.
    fn has(&self, phrase: &str) -> bool {
        format!(" {} ", self.text).contains(&format!(" {phrase} "))
    }

    fn any(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|p| self.has(p))
    }

    /// Whether some word starts with one of `stems` ("overdue", "late" → "lat").
    fn stem(&self, stems: &[&str]) -> bool {
        self.words
            .iter()
            .any(|w| stems.iter().any(|s| w.starts_with(s)))
    }

    /// The words after the first of `markers`, up to a word in `stop` (at most `max`).
    fn after(&self, markers: &[&str], stop: &[&str], max: usize) -> Option<String> {
        let text = format!(" {} ", self.text);
        let at = markers
            .iter()
            .filter_map(|m| text.find(&format!(" {m} ")).map(|i| i + m.len() + 2))
            .min()?;
        let taken: Vec<&str> = text[at..]
            .split_whitespace()
            .take_while(|w| !stop.contains(w))
            .take(max)
            .collect();
        (!taken.is_empty()).then(|| taken.join(" "))
    }
}

/// Words that never name a partner or a product.
const FILLER: &[&str] = &[
    "accepted",
    "received",
    "shipped",
    "delivered",
    "approved",
    "submitted",
    "rejected",
    "cancelled",
    "arrived",
    "finished",
    "done",
    "made",
    "patient",
    "patients",
    "ref",
    "reference",
    "acknowledge",
    "approve",
    "approval",
    "accept",
    "answer",
    "confirm",
    "send",
    "sent",
    "be",
    "the",
    "a",
    "an",
    "our",
    "my",
    "your",
    "we",
    "us",
    "me",
    "i",
    "you",
    "it",
    "they",
    "them",
    "is",
    "are",
    "was",
    "were",
    "be",
    "do",
    "does",
    "did",
    "have",
    "has",
    "had",
    "got",
    "any",
    "some",
    "all",
    "moment",
    "present",
    "now",
    "right",
    "today",
    "currently",
    "still",
    "yet",
    "please",
    "this",
    "that",
    "these",
    "those",
    "what",
    "which",
    "who",
    "how",
    "much",
    "many",
    "least",
    "most",
    "lab",
    "labs",
    "supplier",
    "suppliers",
    "practice",
    "practices",
    "there",
    "here",
    "home",
    "stock",
    "hand",
    "left",
    "in",
    "on",
    "at",
    "for",
    "to",
    "of",
    "with",
    "from",
    "by",
    "and",
    "or",
    "than",
    "so",
    "far",
    "month",
    "week",
    "year",
    "day",
    "days",
    "next",
    "last",
    "before",
    "until",
    "till",
    "within",
    "late",
    "overdue",
    "behind",
    "orders",
    "order",
    "jobs",
    "job",
    "po",
    "pos",
    "purchase",
    "open",
    "price",
    "prices",
    "cost",
    "costs",
    "should",
    "need",
    "can",
    "could",
    "would",
    "will",
    "like",
    "want",
    "not",
    "no",
    "less",
    "more",
    "per",
    "each",
    "unit",
    "units",
    "pack",
    "packs",
    "currently",
    "already",
    "again",
];

/// Words that end a partner's or a product's name in a question.
const STOP: &[&str] = &[
    "this",
    "that",
    "last",
    "next",
    "in",
    "on",
    "before",
    "until",
    "by",
    "for",
    "are",
    "is",
    "were",
    "was",
    "do",
    "does",
    "did",
    "have",
    "has",
    "which",
    "who",
    "what",
    "and",
    "or",
    "right",
    "now",
    "today",
    "so",
    "still",
    "at",
    "with",
    "from",
    "to",
    "cost",
    "costs",
    "per",
    "please",
    "currently",
    "left",
    "we",
    "i",
    "late",
    "overdue",
    "behind",
    "orders",
    "jobs",
];

/// The partner a question names after "at", "with", "from" (or "to" for purchase orders):
/// its first word that is not filler.
fn partner(q: &Q, markers: &[&str]) -> Option<String> {
    let text = format!(" {} ", q.text);
    let mut best: Option<(usize, String)> = None;
    for m in markers {
        let mut from = 0;
        while let Some(i) = text[from..].find(&format!(" {m} ")) {
            let at = from + i + m.len() + 2;
            let name = text[at..]
                .split_whitespace()
                .take_while(|w| !STOP.contains(w) || *w == "the")
                .find(|w| {
                    !FILLER.contains(w)
                        && !is_time_word(w)
                        && !w.chars().any(|c| c.is_ascii_digit())
                });
            if let Some(name) = name
                && best.as_ref().is_none_or(|(b, _)| at < *b)
            {
                best = Some((at, name.to_owned()));
                break;
            }
            from = at - 1;
        }
    }
    best.map(|(_, n)| n)
}

fn is_time_word(w: &str) -> bool {
    weekday(w).is_some()
        || [
            "week", "weeks", "month", "months", "tomorrow", "today", "moment", "once", "least",
            "all", "risk", "minimum", "end",
        ]
        .contains(&w)
}

fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tue" | "tues" => Weekday::Tue,
        "wednesday" | "wed" => Weekday::Wed,
        "thursday" | "thu" | "thurs" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        _ => return None,
    })
}

fn number(w: &str) -> Option<i64> {
    if let Ok(n) = w.parse::<i64>() {
        return Some(n);
    }
    let words = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen",
    ];
    if let Some(n) = words.iter().position(|x| *x == w) {
        return Some(n as i64);
    }
    Some(match w {
        "twenty" => 20,
        "thirty" => 30,
        "a" | "an" => 1,
        _ => return None,
    })
}

/// The horizon a question names, as tool arguments: `{"before": date}` for a weekday or the
/// end of a week, `{"days": n}` for a number of days, weeks or months.
fn horizon(q: &Q, today: NaiveDate) -> Option<Value> {
    for (i, w) in q.words.iter().enumerate() {
        let prev = if i > 0 { q.words[i - 1].as_str() } else { "" };
        if let Some(day) = weekday(w)
            && (["before", "by", "until", "till", "for", "on", "next", "this"].contains(&prev)
                || i + 1 == q.words.len())
        {
            let ahead = (7 + day.num_days_from_monday() as i64
                - today.weekday().num_days_from_monday() as i64)
                % 7;
            let ahead = if ahead == 0 { 7 } else { ahead };
            return Some(json!({"before": (today + Duration::days(ahead)).to_string()}));
        }
        if let Some(n) = number(w).filter(|n| *n > 0 && *n <= 3650) {
            let unit = q.words.get(i + 1).map(String::as_str).unwrap_or("");
            let per = match unit {
                "day" | "days" => Some(1),
                "week" | "weeks" => Some(7),
                "month" | "months" => Some(30),
                _ => None,
            };
            if let Some(per) = per {
                return Some(json!({"days": n * per}));
            }
        }
    }
    if q.has("tomorrow") {
        return Some(json!({"days": 1}));
    }
    if q.has("next week") || q.has("a week") || q.has("the week") {
        return Some(json!({"days": 7}));
    }
    if q.has("this week") || q.has("end of the week") || q.has("weekend") {
        let to_sunday = 6 - today.weekday().num_days_from_monday() as i64;
        return Some(json!({"days": to_sunday.max(1)}));
    }
    if q.any(&["next month", "a month", "this month", "the month"]) {
        return Some(json!({"days": 30}));
    }
    if q.any(&["fortnight", "next two weeks", "two weeks"]) {
        return Some(json!({"days": 14}));
    }
    None
}

/// A period a question names, as `orders_counts` arguments, and how to name it.
fn period(q: &Q, today: NaiveDate) -> (Value, String) {
    let first_of = |d: NaiveDate| d.with_day(1).unwrap_or(d);
    if q.has("last month") || q.has("previous month") {
        let end = first_of(today).pred_opt().unwrap_or(today);
        return (
            json!({"from": first_of(end).to_string(), "to": end.to_string()}),
            "Last month".into(),
        );
    }
    if q.has("this week") || q.has("so far this week") {
        let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
        return (
            json!({"from": monday.to_string(), "to": today.to_string()}),
            "This week".into(),
        );
    }
    if q.has("today") {
        return (
            json!({"from": today.to_string(), "to": today.to_string()}),
            "Today".into(),
        );
    }
    if q.has("this year") || q.has("so far this year") || q.has("year to date") {
        let jan = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
        return (
            json!({"from": jan.to_string(), "to": today.to_string()}),
            "This year".into(),
        );
    }
    (json!({}), "This month".into())
}

/// The order statuses a question names.
fn order_statuses(q: &Q) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut add = |yes: bool, s: &'static str| {
        if yes && !out.contains(&s) {
            out.push(s);
        }
    };
    add(
        q.any(&[
            "on hold",
            "held",
            "queries",
            "query",
            "questions",
            "question",
        ]),
        "ON_HOLD",
    );
    add(
        q.any(&[
            "in production",
            "being made",
            "in the lab",
            "in progress",
            "surfacing",
        ]),
        "IN_PRODUCTION",
    );
    add(
        q.any(&["quality check", "qc", "inspection"]),
        "QUALITY_CHECK",
    );
    add(
        q.any(&[
            "shipped",
            "dispatched",
            "on the way",
            "in transit",
            "sent out",
        ]),
        "SHIPPED",
    );
    add(
        q.any(&[
            "submitted",
            "not yet accepted",
            "waiting to be accepted",
            "not accepted",
            "new orders",
            "incoming",
            "to accept",
        ]),
        "SUBMITTED",
    );
    add(
        q.any(&["accepted", "received"])
            && !q.any(&[
                "not yet accepted",
                "not accepted",
                "to be accepted",
                "to accept",
            ]),
        "RECEIVED",
    );
    add(
        q.any(&[
            "arrived",
            "ready to collect",
            "ready for collection",
            "ready for pickup",
        ]),
        "ARRIVED",
    );
    add(
        q.any(&[
            "delivered",
            "collected",
            "handed over",
            "completed",
            "finished",
        ]),
        "DELIVERED",
    );
    add(q.any(&["cancelled", "canceled"]), "CANCELLED");
    add(q.any(&["rejected", "refused", "declined"]), "REJECTED");
    add(q.any(&["draft", "drafts", "unsent", "not sent"]), "DRAFT");
    out
}

/// An order number or patient reference in the question ("ORD-000042", "PR-1234").
fn order_ref(question: &str) -> Option<String> {
    question
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .find(|w| {
            let w = w.to_uppercase();
            (w.starts_with("ORD-") && w.len() > 4)
                || (w.contains('-')
                    && w.chars().any(|c| c.is_ascii_digit())
                    && w.chars().any(|c| c.is_ascii_alphabetic()))
        })
        .map(|w| w.to_uppercase())
}

/// The product words of a stock or price question: what follows one of its markers (the
/// first occurrence that leaves some), without filler.
fn product_words(q: &Q, markers: &[&str]) -> Option<String> {
    const MORE_STOPS: &[&str] = &[
        "cost",
        "costs",
        "sell",
        "sells",
        "supply",
        "supplies",
        "go",
        "going",
        "there",
        "stock",
        "available",
        "price",
        "priced",
        "from",
    ];
    let text = format!(" {} ", q.text);
    let mut starts: Vec<usize> = markers
        .iter()
        .flat_map(|m| {
            let pat = format!(" {m} ");
            let len = pat.len();
            text.match_indices(&pat)
                .map(move |(i, _)| i + len)
                .collect::<Vec<_>>()
        })
        .collect();
    starts.sort_unstable();
    for at in starts {
        let words: Vec<&str> = text[at..]
            .split_whitespace()
            .take_while(|w| !STOP.contains(w) && !MORE_STOPS.contains(w))
            .take(6)
            .filter(|w| !FILLER.contains(w))
            .collect();
        if !words.is_empty() {
            return Some(words.join(" "));
        }
    }
    None
}

/// Specialty words of a directory question, as the tool's codes.
fn specialties(q: &Q) -> Vec<&'static str> {
    let mut out = Vec::new();
    let table: &[(&[&str], &str)] = &[
        (
            &["progressive", "progressives", "varifocal", "varifocals"],
            "PROGRESSIVE",
        ),
        (&["single vision"], "SINGLE_VISION"),
        (&["bifocal", "bifocals"], "BIFOCAL"),
        (&["trifocal", "trifocals"], "TRIFOCAL"),
        (&["office lenses", "office"], "OFFICE"),
        (&["1.67", "167", "index 1.67"], "INDEX_1_67"),
        (&["1.74", "174"], "INDEX_1_74"),
        (&["1.60", "1.6"], "INDEX_1_60"),
        (&["1.56"], "INDEX_1_56"),
        (&["1.59", "polycarbonate", "poly"], "INDEX_1_59"),
        (&["1.53", "trivex"], "INDEX_1_53"),
        (&["1.50", "1.5"], "INDEX_1_50"),
        (
            &[
                "anti reflective",
                "anti-reflective",
                "ar coating",
                "antireflective",
            ],
            "ANTI_REFLECTIVE",
        ),
        (&["hard coat", "hardcoat", "hard coating"], "HARD_COAT"),
        (&["blue light", "blue filter", "blue-light"], "BLUE_FILTER"),
        (
            &["photochromic", "photochromics", "transitions"],
            "PHOTOCHROMIC",
        ),
        (&["polarised", "polarized"], "POLARISED"),
        (&["surfacing"], "SURFACING"),
        (&["edging"], "EDGING"),
        (&["mounting", "glazing"], "MOUNTING"),
        (&["tinting", "tints", "tint"], "TINTING"),
    ];
    for (words, code) in table {
        if q.any(words) && !out.contains(code) {
            out.push(*code);
        }
    }
    out
}

/// Supplier product categories a question names, as directory specialties.
fn supplier_categories(q: &Q) -> Vec<&'static str> {
    let mut out = Vec::new();
    if q.any(&[
        "blank",
        "blanks",
        "lens blanks",
        "semi finished",
        "semi-finished",
    ]) {
        out.push("LENS_BLANKS");
    }
    if q.any(&["frame", "frames", "sunglasses"]) {
        out.push("FRAMES");
    }
    if q.any(&["contact lens", "contact lenses", "contacts", "dailies"]) {
        out.push("CONTACT_LENSES");
    }
    if q.any(&[
        "cases",
        "cloths",
        "solution",
        "solutions",
        "sundries",
        "accessories",
    ]) {
        out.push("SUNDRIES");
    }
    out
}

fn call(name: &str, args: Value) -> (String, Value) {
    (name.to_owned(), args)
}

fn plan(intent: Intent, calls: Vec<(String, Value)>) -> Option<Plan> {
    Some(Plan { intent, calls })
}

/// The lines of a draft purchase order a question names: a quantity, then a SKU (a word
/// with a digit and a letter, or with a hyphen), e.g. "10 x NW-167-BLK" or "20 of SKU123".
fn draft_lines(question: &str) -> Vec<Value> {
    let words: Vec<&str> = question
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|w| {
            w.trim_matches(|c: char| {
                !(c.is_alphanumeric() || c == '-' || c == '.' || c == '_' || c == '/')
            })
        })
        .filter(|w| !w.is_empty())
        .collect();
    let is_sku = |w: &str| {
        let alpha = w.chars().any(|c| c.is_ascii_alphabetic());
        let digit = w.chars().any(|c| c.is_ascii_digit());
        ((alpha && digit)
            || (alpha && w.contains('-') && w.chars().any(|c| c.is_ascii_uppercase())))
            && w.parse::<f64>().is_err()
            && !["x", "of", "units", "pcs"].contains(&w.to_lowercase().as_str())
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let qty = words[i]
            .trim_end_matches(['x', 'X'])
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0);
        if let Some(qty) = qty {
            let mut j = i + 1;
            while j < words.len()
                && [
                    "x", "of", "units", "unit", "pcs", "pieces", "boxes", "packs", "more", "×",
                ]
                .contains(&words[j].to_lowercase().as_str())
            {
                j += 1;
            }
            if j < words.len() && is_sku(words[j]) {
                out.push(json!({"sku": words[j], "quantity": qty}));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The plan for `question`, or `None` when the question is not one the built-in
/// assistant knows.
pub fn recognise(question: &str, today: NaiveDate) -> Option<Plan> {
    let q = Q::new(question);
    if q.words.is_empty() || q.text.is_empty() {
        return None;
    }
    let po = q.any(&["po", "pos", "purchase order", "purchase orders", "purchase"]);
    let orders = q.stem(&["order", "job"])
        || q.any(&["lens orders", "work"])
        || order_ref(question).is_some();
    let late = q.stem(&["late", "overdue", "behind", "delayed", "past due"])
        || q.any(&["past due", "past their due", "missed", "due date passed"]);

    // Drafting a purchase order: "draft a PO to Northwind for 10 x NW-167".
    let drafting = q.stem(&[
        "draft", "prepare", "raise", "create", "make", "start", "set up",
    ]) || q.any(&["put together", "write up", "order 1", "place an order"]);
    let lines = draft_lines(question);
    if (po
        && drafting
        && !q.stem(&["drafts"])
        && !q.any(&[
            "draft pos",
            "draft purchase orders",
            "which",
            "how many",
            "list",
            "show",
        ]))
        || (!lines.is_empty()
            && q.any(&["order", "buy"])
            && q.any(&["from"])
            && !orders_question(&q))
    {
        let supplier = partner(&q, &["to", "from", "with", "for"]).filter(|s| {
            !lines
                .iter()
                .any(|l| l["sku"].as_str().is_some_and(|k| k.eq_ignore_ascii_case(s)))
        });
        let mut args = json!({"lines": lines});
        if let Some(s) = supplier {
            args["supplier"] = json!(s);
        }
        return plan(
            Intent::DraftPurchaseOrder,
            vec![call("inventory_draft_purchase_order", args)],
        );
    }

    // Purchase orders.
    if po {
        let mut args = json!({});
        let mut what = "open".to_owned();
        if q.any(&[
            "approval",
            "approve",
            "approved",
            "sign off",
            "sign-off",
            "awaiting approval",
        ]) {
            args["awaitingApproval"] = json!(true);
            what = "awaiting approval".into();
        }
        let mut statuses = Vec::new();
        if q.any(&["draft", "drafts"]) && args.get("awaitingApproval").is_none() {
            statuses.push("DRAFT");
        }
        if q.any(&[
            "submitted",
            "sent",
            "waiting for the supplier",
            "not yet acknowledged",
            "unanswered",
            "to acknowledge",
            "new",
        ]) {
            statuses.push("SUBMITTED");
        }
        if q.any(&["acknowledged", "confirmed", "accepted"]) {
            statuses.push("ACKNOWLEDGED");
        }
        if q.any(&[
            "partly received",
            "partially received",
            "part received",
            "partial",
        ]) {
            statuses.push("PARTIALLY_RECEIVED");
        }
        if q.any(&["fully received", "completed", "received in full"]) {
            statuses.push("RECEIVED");
        }
        if q.any(&["cancelled", "canceled"]) {
            statuses.push("CANCELLED");
        }
        if q.any(&["rejected", "declined", "refused"]) {
            statuses.push("REJECTED");
        }
        if !statuses.is_empty() {
            what = statuses
                .iter()
                .map(|s| s.to_lowercase().replace('_', " "))
                .collect::<Vec<_>>()
                .join(" or ");
            args["statuses"] = json!(statuses);
        } else if q.any(&["all", "every", "history", "ever"]) {
            args["all"] = json!(true);
            what = "".into();
        }
        if let Some(p) = partner(&q, &["to", "from", "with", "at"]) {
            args["partner"] = json!(p);
        }
        return plan(
            Intent::PurchaseOrders { what },
            vec![call("inventory_purchase_orders", args)],
        );
    }

    // Who supplies a product: "who supplies 1.67 blanks?", "who sells tortoise frames?".
    if q.any(&[
        "who supplies",
        "who sells",
        "who stocks",
        "who has",
        "who carries",
        "where can i buy",
        "where can we buy",
        "where can i get",
        "where can we get",
        "suppliers of",
        "suppliers for",
        "supplier of",
        "supplier for",
        "who can supply",
        "who makes",
    ]) && !q.any(&["who has the", "who has late"])
    {
        let product = product_words(
            &q,
            &[
                "supplies", "sells", "stocks", "has", "carries", "buy", "get", "of", "for",
                "supply", "makes",
            ],
        )
        .unwrap_or_default();
        let mut calls = vec![call(
            "marketplace_catalog",
            json!({"query": product, "limit": 10}),
        )];
        let categories = supplier_categories(&q);
        let mut dir = json!({"companyType": "SUPPLIER", "limit": 10});
        if !categories.is_empty() {
            dir["specialties"] = json!(categories);
        } else if !product.is_empty() {
            dir["query"] = json!(product);
        }
        calls.push(call("marketplace_directory", dir));
        return plan(Intent::WhoSupplies { product }, calls);
    }

    // Prices in the catalogs: "price of 1.67 blanks", "how much is the tortoise frame?".
    let price = q.any(&[
        "price",
        "prices",
        "priced",
        "cost",
        "costs",
        "cheapest",
        "how much is",
        "how much are",
        "how much does",
        "how much do",
    ]) && !q.any(&[
        "how much stock",
        "how much do we have",
        "how much have we",
        "how much is left",
        "how much left",
    ]);
    if price {
        let product = product_words(
            &q,
            &["of", "for", "is", "are", "does", "do", "cheapest", "on"],
        )
        .or_else(|| product_words(&q, &["price", "prices", "cost"]))
        .unwrap_or_default();
        let mut args = json!({"query": product, "limit": 10});
        if let Some(s) = partner(&q, &["from", "at", "with"]) {
            args["supplier"] = json!(s);
        }
        return plan(
            Intent::Prices { product },
            vec![call("marketplace_catalog", args)],
        );
    }

    // Connections.
    if q.any(&[
        "connections",
        "connection",
        "connected",
        "partners",
        "trading partners",
        "who do we work with",
        "who do we trade with",
        "who are we working with",
        "requests",
        "request",
    ]) && !q.any(&["who supplies", "who sells"])
    {
        let mut args = json!({});
        if q.any(&["pending", "waiting", "requests", "request", "unanswered"]) {
            args["statuses"] = json!(["PENDING"]);
        } else if q.any(&["connected", "active"]) {
            args["statuses"] = json!(["ACTIVE"]);
        }
        if q.any(&["lab", "labs"]) {
            args["partnerType"] = json!("LAB");
        } else if q.any(&["supplier", "suppliers"]) {
            args["partnerType"] = json!("SUPPLIER");
        } else if q.any(&[
            "practice",
            "practices",
            "customers",
            "clients",
            "ecps",
            "opticians",
        ]) {
            args["partnerType"] = json!("ECP");
        }
        return plan(
            Intent::Connections,
            vec![call("marketplace_connections", args)],
        );
    }

    // The directory: "which labs do progressives?", "find a lab for 1.74".
    let labs_asked = q.any(&["lab", "labs", "laboratory", "laboratories"]);
    let suppliers_asked = q.any(&[
        "supplier",
        "suppliers",
        "vendor",
        "vendors",
        "distributor",
        "distributors",
    ]);
    let directory_verb = q.any(&[
        "directory",
        "which labs",
        "what labs",
        "any labs",
        "find a lab",
        "find labs",
        "find me a lab",
        "find a supplier",
        "find suppliers",
        "which suppliers",
        "what suppliers",
        "recommend",
        "is there a lab",
        "are there labs",
        "who does",
        "who do",
        "who offers",
        "who can do",
        "who can make",
        "labs that",
        "labs which",
        "labs near",
        "suppliers that",
        "suppliers which",
        "listed",
    ]);
    if directory_verb
        && (labs_asked || suppliers_asked || !specialties(&q).is_empty())
        && !late
        && !q.stem(&["order", "job"])
    {
        let mut args = json!({"limit": 10});
        let mut specs: Vec<&str> = Vec::new();
        if suppliers_asked && !labs_asked {
            args["companyType"] = json!("SUPPLIER");
            specs.extend(supplier_categories(&q));
        } else {
            args["companyType"] = json!("LAB");
            specs.extend(specialties(&q));
        }
        let what = specs
            .iter()
            .map(|s| s.to_lowercase().replace('_', " "))
            .collect::<Vec<_>>()
            .join(", ");
        if !specs.is_empty() {
            args["specialties"] = json!(specs);
        }
        if let Some(place) = q.after(&["in", "near", "around"], STOP, 2) {
            let place: Vec<&str> = place
                .split(' ')
                .filter(|w| !FILLER.contains(w) && !w.starts_with("1."))
                .collect();
            if !place.is_empty() && specs.is_empty() {
                args["query"] = json!(place.join(" "));
            }
        }
        return plan(
            Intent::Directory { what },
            vec![call("marketplace_directory", args)],
        );
    }

    // What runs out: "what will run out before Friday?", "anything running low next week?".
    if q.any(&[
        "run out",
        "runs out",
        "running out",
        "ran out",
        "out of stock",
        "running low",
        "run low",
        "runs low",
        "sell out",
        "sold out",
        "stock out",
        "stockout",
        "stockouts",
        "last until",
        "last till",
        "enough stock",
        "going to run",
    ]) {
        let args = horizon(&q, today).unwrap_or_else(|| json!({}));
        return plan(Intent::RunsOut, vec![call("inventory_runs_out", args)]);
    }

    // Reorder.
    if q.any(&[
        "reorder",
        "re-order",
        "re order",
        "order more",
        "top up",
        "top-up",
        "restock",
        "replenish",
        "need to order",
        "should we order",
        "should i order",
        "what to order",
        "what should we buy",
        "what should i buy",
        "need to buy",
        "buy more",
    ]) && !q.any(&["reorder point", "reorder points"])
    {
        let mut args = json!({});
        if let Some(p) =
            product_words(&q, &["reorder", "restock", "replenish"]).filter(|p| !p.is_empty())
        {
            args["query"] = json!(p);
        }
        return plan(Intent::Reorder, vec![call("inventory_reorder", args)]);
    }

    // Stock levels.
    let stock = q.any(&[
        "stock",
        "stocks",
        "on hand",
        "in stock",
        "inventory",
        "stock levels",
        "how many",
        "low",
        "below reorder",
        "reorder point",
    ]);
    if stock && !orders && !late && !q.any(&["how many orders", "how many jobs"]) {
        let low_only = q.any(&[
            "low",
            "below",
            "under",
            "short",
            "reorder point",
            "low stock",
        ]);
        let mut args = json!({});
        if low_only {
            args["lowOnly"] = json!(true);
        }
        let product = product_words(&q, &["many", "of", "much", "for", "stock"])
            .filter(|p| !["level", "levels", "low"].contains(&p.as_str()));
        if let Some(p) = product.filter(|p| !p.is_empty()) {
            let p: Vec<&str> = p
                .split(' ')
                .filter(|w| {
                    ![
                        "level", "levels", "low", "below", "reorder", "point", "stocked",
                    ]
                    .contains(w)
                })
                .collect();
            if !p.is_empty() {
                args["query"] = json!(p.join(" "));
            }
        }
        return plan(
            Intent::Stock { low_only },
            vec![call("inventory_stock", args)],
        );
    }

    if !orders && !late {
        return None;
    }

    // Late orders.
    if late {
        let mut args = json!({"late": true, "limit": 50});
        let who = partner(&q, &["at", "with", "from", "for", "to"]);
        if let Some(p) = &who {
            args["partner"] = json!(p);
        }
        return plan(
            Intent::LateOrders { partner: who },
            vec![call("orders_list", args)],
        );
    }

    // Counts (unless statuses are named: "how many are on hold" lists them).
    if (q.any(&[
        "how many",
        "count",
        "counts",
        "number of",
        "total",
        "totals",
        "summary",
        "stats",
        "statistics",
        "breakdown",
    ]) || q.any(&[
        "this month",
        "so far this month",
        "last month",
        "month to date",
        "this week",
        "this year",
    ])) && order_statuses(&q).is_empty()
    {
        let (args, name) = period(&q, today);
        return plan(
            Intent::OrderCounts { period: name },
            vec![call("orders_counts", args)],
        );
    }

    // Orders by number, status or partner.
    let mut args = json!({"limit": 20});
    let mut what = Vec::new();
    if let Some(r) = order_ref(question) {
        args["text"] = json!(r);
        what.push(r);
    }
    let statuses = order_statuses(&q);
    if !statuses.is_empty() {
        what.push(
            statuses
                .iter()
                .map(|s| s.to_lowercase().replace('_', " "))
                .collect::<Vec<_>>()
                .join(" or "),
        );
        args["statuses"] = json!(statuses);
    } else if args.get("text").is_none() {
        args["open"] = json!(true);
        what.push("open".into());
    }
    if args.get("text").is_none()
        && let Some(p) = partner(&q, &["at", "with", "from", "for", "to"])
    {
        args["partner"] = json!(p);
    }
    plan(
        Intent::Orders {
            what: what.join(" "),
        },
        vec![call("orders_list", args)],
    )
}

/// Whether a question asks about lens orders rather than buying.
fn orders_question(q: &Q) -> bool {
    q.stem(&["job"]) || q.any(&["orders", "lens order", "late", "overdue"])
}

/// A code as people read it: `IN_PRODUCTION` -> `in production`.
fn human(code: &str) -> String {
    code.to_lowercase().replace('_', " ")
}

fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn n(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn rows<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn plural(count: i64, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

/// Up to ten lines, then "and N more" (N from the tool's count).
fn listed(items: &[Value], count: i64, line: impl Fn(&Value) -> String) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(10)
        .map(|i| format!("- {}", line(i)))
        .collect();
    let mut out = shown.join("\n");
    let more = count - shown.len() as i64;
    if more > 0 {
        out.push_str(&format!("\n…and {more} more."));
    }
    out
}

fn order_line(o: &Value, today: Option<NaiveDate>) -> String {
    let mut out = s(o, "orderNumber");
    let partner = s(o, "partner");
    if !partner.is_empty() {
        if s(o, "side") == "LAB" {
            out.push_str(&format!(" from {partner}"));
        } else {
            out.push_str(&format!(" at {partner}"));
        }
    }
    out.push_str(&format!(": {}", human(&s(o, "status"))));
    let due = s(o, "dueDate");
    if !due.is_empty() {
        out.push_str(&format!(", due {due}"));
        if o.get("late").and_then(Value::as_bool) == Some(true)
            && let (Some(t), Ok(d)) = (today, due.parse::<NaiveDate>())
        {
            let days = (t - d).num_days();
            out.push_str(&format!(" ({} late)", plural(days, "day", "days")));
        }
    }
    let job = s(o, "labJobNumber");
    if !job.is_empty() {
        out.push_str(&format!(", lab job {job}"));
    }
    let patient = s(o, "patientRef");
    if !patient.is_empty() {
        out.push_str(&format!(", patient ref {patient}"));
    }
    out
}

/// The answer to `plan` from its tools' outcomes (in call order).
pub fn render(plan: &Plan, outcomes: &[Outcome]) -> String {
    let Some(first) = outcomes.first() else {
        return "I found nothing to answer with.".into();
    };
    if let Intent::DraftPurchaseOrder = plan.intent {
        return match first {
            Err(e) => format!("I could not prepare that purchase order: {e}"),
            Ok(v) => draft_answer(v),
        };
    }
    let v = match first {
        Err(e) => return format!("I could not read that: {e}"),
        Ok(v) => v,
    };
    match &plan.intent {
        Intent::LateOrders { partner } => {
            let count = n(v, "count");
            let at = partner
                .as_deref()
                .map(|p| format!(" with {}", title(p)))
                .unwrap_or_default();
            if count == 0 {
                return format!("None of your orders{at} are late.");
            }
            let today = s(v, "today").parse().ok();
            format!(
                "{} late{at} (past the due date and not finished):\n{}",
                if count == 1 {
                    "1 order is".to_owned()
                } else {
                    format!("{count} orders are")
                },
                listed(rows(v, "orders"), count, |o| order_line(o, today))
            )
        }
        Intent::Orders { what } => {
            let count = n(v, "count");
            let what = if what.is_empty() {
                String::new()
            } else {
                format!("{what} ")
            };
            if count == 0 {
                return format!("You have no {what}orders matching that.");
            }
            let today = s(v, "today").parse().ok();
            format!(
                "You have {count} {what}{}:\n{}",
                if count == 1 { "order" } else { "orders" },
                listed(rows(v, "orders"), count, |o| order_line(o, today))
            )
        }
        Intent::OrderCounts { period } => {
            let by: Vec<String> = v
                .get("byStatus")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, c)| format!("{} {}", c, human(k)))
                        .collect()
                })
                .unwrap_or_default();
            let mut out = format!(
                "{period} ({} to {}): {} created, {} submitted, {} delivered.",
                s(v, "from"),
                s(v, "to"),
                plural(n(v, "created"), "order", "orders"),
                n(v, "submitted"),
                n(v, "delivered"),
            );
            if !by.is_empty() {
                out.push_str(&format!(" By status now: {}.", by.join(", ")));
            }
            out.push_str(&format!(
                " Open now: {}; late now: {}.",
                n(v, "openNow"),
                n(v, "lateNow")
            ));
            out
        }
        Intent::Stock { low_only } => {
            let count = n(v, "count");
            if count == 0 {
                return if *low_only {
                    "No product is at or below its reorder point.".into()
                } else {
                    "I found no products matching that in your stock.".into()
                };
            }
            let head = if *low_only {
                format!(
                    "{} at or below the reorder point:",
                    plural(count, "product is", "products are")
                )
            } else {
                format!("Stock of {}:", plural(count, "product", "products"))
            };
            format!(
                "{head}\n{}",
                listed(rows(v, "products"), count, |p| {
                    let mut line = format!(
                        "{} {}: {} on hand, {} available",
                        s(p, "sku"),
                        s(p, "name"),
                        n(p, "onHand"),
                        n(p, "available")
                    );
                    if let Some(r) = p.get("reorderPoint").and_then(Value::as_i64) {
                        line.push_str(&format!(", reorder point {r}"));
                    }
                    if p.get("low").and_then(Value::as_bool) == Some(true) {
                        line.push_str(" (low)");
                    }
                    line
                })
            )
        }
        Intent::RunsOut => {
            let count = n(v, "count");
            let until = s(v, "until");
            if count == 0 {
                return format!("Nothing runs out by {until} at your sales of the last 90 days.");
            }
            format!(
                "{} by {until} at your sales of the last 90 days:\n{}",
                plural(count, "product runs out", "products run out"),
                listed(rows(v, "products"), count, |p| {
                    let mut line = format!(
                        "{} {}: {} available, selling {} a day, runs out on {} (in {} days)",
                        s(p, "sku"),
                        s(p, "name"),
                        n(p, "available"),
                        s(p, "meanDailyDemand"),
                        s(p, "runsOutOn"),
                        s(p, "daysLeft")
                    );
                    if n(p, "onOrder") > 0 {
                        line.push_str(&format!("; {} on order", n(p, "onOrder")));
                    }
                    line
                })
            )
        }
        Intent::Reorder => {
            let count = n(v, "count");
            if count == 0 {
                return "Nothing needs reordering right now.".into();
            }
            format!(
                "{} to reorder now:\n{}",
                plural(count, "product", "products"),
                listed(rows(v, "products"), count, |p| {
                    let mut line = format!(
                        "{} {}: order {} ({} available, {} on order",
                        s(p, "sku"),
                        s(p, "name"),
                        n(p, "suggestedQuantity"),
                        n(p, "available"),
                        n(p, "onOrder")
                    );
                    if let Some(r) = p.get("reorderPoint").and_then(Value::as_i64) {
                        line.push_str(&format!(", reorder point {r}"));
                    }
                    line.push(')');
                    line
                })
            )
        }
        Intent::PurchaseOrders { what } => {
            let count = n(v, "count");
            let what = if what.is_empty() {
                String::new()
            } else {
                format!("{what} ")
            };
            if count == 0 {
                return format!("You have no {what}purchase orders.");
            }
            format!(
                "You have {count} {what}{}:\n{}",
                if count == 1 {
                    "purchase order"
                } else {
                    "purchase orders"
                },
                listed(rows(v, "purchaseOrders"), count, |p| {
                    let to = if s(p, "side") == "SUPPLIER" {
                        "from"
                    } else {
                        "to"
                    };
                    let mut line = format!(
                        "{} {to} {}: {}, {}, {} {}",
                        s(p, "poNumber"),
                        s(p, "partner"),
                        human(&s(p, "status")),
                        plural(n(p, "lines"), "line", "lines"),
                        s(p, "total"),
                        s(p, "currency")
                    );
                    if p.get("awaitingApproval").and_then(Value::as_bool) == Some(true) {
                        line.push_str(" (awaiting approval)");
                    }
                    line
                })
            )
        }
        Intent::Connections => {
            let count = n(v, "count");
            if count == 0 {
                return "You have no connections matching that.".into();
            }
            format!(
                "{}:\n{}",
                plural(count, "connection", "connections"),
                listed(rows(v, "connections"), count, |c| {
                    let dir = if s(c, "direction") == "OUTGOING" {
                        "you asked"
                    } else {
                        "they asked"
                    };
                    format!(
                        "{} ({}): {}, {dir}, since {}",
                        s(c, "partner"),
                        human(&s(c, "partnerType")),
                        human(&s(c, "status")),
                        s(c, "since")
                    )
                })
            )
        }
        Intent::Directory { what } => {
            let count = n(v, "count");
            let what = if what.is_empty() {
                String::new()
            } else {
                format!(" for {what}")
            };
            if count == 0 {
                return format!("I found no companies in the directory{what}.");
            }
            format!(
                "{} in the directory{what}:\n{}",
                plural(count, "company", "companies"),
                listed(rows(v, "companies"), count, directory_line)
            )
        }
        Intent::WhoSupplies { product } => {
            let count = n(v, "count");
            let mut out = if count == 0 {
                format!("None of your connected suppliers lists {product} in its catalog.")
            } else {
                format!(
                    "Your connected suppliers list {}:\n{}",
                    plural(count, "matching item", "matching items"),
                    listed(rows(v, "items"), count, catalog_line)
                )
            };
            if let Some(Ok(dir)) = outcomes.get(1) {
                let dc = n(dir, "count");
                if dc > 0 {
                    out.push_str(&format!(
                        "\nIn the directory, {}:\n{}",
                        plural(dc, "supplier lists it", "suppliers list it"),
                        listed(rows(dir, "companies"), dc, directory_line)
                    ));
                }
            }
            out
        }
        Intent::Prices { product } => {
            let count = n(v, "count");
            if count == 0 {
                let what = if product.is_empty() {
                    "that"
                } else {
                    product.as_str()
                };
                return format!("None of your connected suppliers lists {what} in its catalog.");
            }
            format!(
                "Prices from your connected suppliers ({}):\n{}",
                plural(count, "item", "items"),
                listed(rows(v, "items"), count, catalog_line)
            )
        }
        Intent::DraftPurchaseOrder => draft_answer(v),
    }
}

fn title(p: &str) -> String {
    p.split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn directory_line(c: &Value) -> String {
    let mut line = format!("{} ({}", s(c, "name"), human(&s(c, "companyType")));
    let city = s(c, "city");
    if !city.is_empty() {
        line.push_str(&format!(", {city}"));
    }
    line.push(')');
    let specs: Vec<String> = rows(c, "specialties")
        .iter()
        .filter_map(Value::as_str)
        .map(human)
        .collect();
    if !specs.is_empty() {
        line.push_str(&format!(": {}", specs.join(", ")));
    }
    if c.get("connected").and_then(Value::as_bool) == Some(true) {
        line.push_str(" (connected)");
    }
    line
}

fn catalog_line(i: &Value) -> String {
    format!(
        "{} {} from {}: {} {} (minimum {}, {} days lead time)",
        s(i, "sku"),
        s(i, "name"),
        s(i, "supplier"),
        s(i, "price"),
        s(i, "currency"),
        n(i, "minOrderQuantity"),
        n(i, "leadTimeDays")
    )
}

fn draft_answer(v: &Value) -> String {
    let lines: Vec<String> = rows(v, "lines")
        .iter()
        .map(|l| {
            format!(
                "{} x {} {} at {}",
                n(l, "quantity"),
                s(l, "sku"),
                s(l, "name"),
                s(l, "unitPrice")
            )
        })
        .collect();
    format!(
        "I prepared draft purchase order {} to {}: {}; total {} {}. It is a draft waiting for a person's approval: nothing has been sent to the supplier.",
        s(v, "poNumber"),
        s(v, "supplier"),
        lines.join(", "),
        s(v, "total"),
        s(v, "currency")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Wednesday.
    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 18).unwrap()
    }

    fn tools_of(question: &str) -> Vec<String> {
        recognise(question, today())
            .map(|p| p.calls.into_iter().map(|(n, _)| n).collect())
            .unwrap_or_default()
    }

    fn args_of(question: &str) -> Value {
        recognise(question, today())
            .unwrap_or_else(|| panic!("not recognised: {question}"))
            .calls[0]
            .1
            .clone()
    }

    #[test]
    fn normalising_keeps_numbers_and_references() {
        assert_eq!(
            normalise("Who supplies 1.67 blanks?"),
            "who supplies 1.67 blanks"
        );
        assert_eq!(
            normalise("Where's ORD-000042, please!"),
            "wheres ord-000042 please"
        );
        assert_eq!(normalise("  Late -- jobs?? "), "late jobs");
    }

    #[test]
    fn late_orders_in_many_phrasings() {
        for q in [
            "Which orders are late?",
            "Any overdue jobs?",
            "What jobs are behind?",
            "show me late orders",
            "Are any of our jobs overdue at Clearview?",
            "Which of my lens orders are past due?",
            "Which jobs are running late at Clearview?",
        ] {
            assert_eq!(tools_of(q), ["orders_list"], "{q}");
            assert_eq!(args_of(q)["late"], true, "{q}");
        }
        assert_eq!(
            args_of("Which jobs are behind at Clearview?")["partner"],
            "clearview"
        );
        assert_eq!(
            args_of("Anything overdue with Clearview Lens Lab right now?")["partner"],
            "clearview"
        );
        assert!(
            args_of("Which orders are late at the moment?")
                .get("partner")
                .is_none()
        );
    }

    #[test]
    fn counts_of_the_month() {
        for q in [
            "How many orders this month?",
            "How many jobs have we sent so far this month?",
            "Order counts for this month",
            "how many orders did we get last month",
        ] {
            assert_eq!(tools_of(q), ["orders_counts"], "{q}");
        }
        assert_eq!(args_of("How many orders this month?"), json!({}));
        assert_eq!(
            args_of("how many orders last month"),
            json!({"from": "2026-02-01", "to": "2026-02-28"})
        );
    }

    #[test]
    fn orders_by_status_partner_and_number() {
        assert_eq!(
            args_of("Which orders are on hold?")["statuses"],
            json!(["ON_HOLD"])
        );
        assert_eq!(
            args_of("What jobs are in production at Clearview?")["partner"],
            "clearview"
        );
        assert_eq!(
            args_of("Which orders have shipped?")["statuses"],
            json!(["SHIPPED"])
        );
        assert_eq!(args_of("Where is ORD-000042?")["text"], "ORD-000042");
        assert_eq!(
            args_of("Where is the job for patient BSP-106?"),
            json!({"limit": 20, "text": "BSP-106"})
        );
        assert_eq!(
            args_of("How many new orders are waiting to be accepted?"),
            json!({"limit": 20, "statuses": ["SUBMITTED"]})
        );
        assert_eq!(args_of("status of order ORD-000003")["text"], "ORD-000003");
        assert_eq!(
            args_of("What orders do we have with Clearview?")["open"],
            true
        );
    }

    #[test]
    fn running_out_with_horizons() {
        assert_eq!(
            tools_of("What will run out before Friday?"),
            ["inventory_runs_out"]
        );
        // Wednesday to Friday.
        assert_eq!(
            args_of("What will run out before Friday?"),
            json!({"before": "2026-03-20"})
        );
        assert_eq!(args_of("What runs out next week?"), json!({"days": 7}));
        assert_eq!(
            args_of("Anything going to be out of stock in 10 days?"),
            json!({"days": 10})
        );
        assert_eq!(args_of("What's running low?"), json!({}));
        assert_eq!(
            args_of("what will run out within 2 weeks"),
            json!({"days": 14})
        );
        assert_eq!(
            args_of("Will anything run out by Monday?"),
            json!({"before": "2026-03-23"})
        );
        assert_eq!(
            args_of("Will anything run out by Wednesday?"),
            json!({"before": "2026-03-25"})
        );
    }

    #[test]
    fn reorder_and_stock() {
        for q in [
            "What should I reorder?",
            "What do we need to order more of?",
            "What needs a top up?",
            "what should we restock",
        ] {
            assert_eq!(tools_of(q), ["inventory_reorder"], "{q}");
        }
        assert_eq!(
            tools_of("How many 1.67 blanks do we have?"),
            ["inventory_stock"]
        );
        assert_eq!(
            args_of("How many 1.67 blanks do we have?")["query"],
            "1.67 blanks"
        );
        assert_eq!(args_of("What is low on stock?")["lowOnly"], true);
        assert_eq!(args_of("Show stock levels"), json!({}));
        assert_eq!(
            args_of("How much stock of tortoise frames is on hand?")["query"],
            "tortoise frames"
        );
    }

    #[test]
    fn purchase_orders_and_drafts() {
        assert_eq!(
            tools_of("What POs are open?"),
            ["inventory_purchase_orders"]
        );
        assert_eq!(
            args_of("Which purchase orders are waiting for approval?")["awaitingApproval"],
            true
        );
        assert_eq!(
            args_of("Show submitted POs to Northwind")["statuses"],
            json!(["SUBMITTED"])
        );
        assert_eq!(
            args_of("Show submitted POs to Northwind")["partner"],
            "northwind"
        );
        assert_eq!(
            args_of("Which POs are drafts?")["statuses"],
            json!(["DRAFT"])
        );
        let draft = args_of("Draft a PO to Northwind for 20 x NW-167-BLK and 5 NW-TORT-52");
        assert_eq!(
            tools_of("Draft a PO to Northwind for 20 x NW-167-BLK"),
            ["inventory_draft_purchase_order"]
        );
        assert_eq!(draft["supplier"], "northwind");
        assert_eq!(
            draft["lines"],
            json!([{"sku": "NW-167-BLK", "quantity": 20}, {"sku": "NW-TORT-52", "quantity": 5}])
        );
        assert_eq!(
            args_of("Order 10 NW-167-BLK from Northwind")["lines"],
            json!([{"sku": "NW-167-BLK", "quantity": 10}])
        );
    }

    #[test]
    fn marketplace_questions() {
        assert_eq!(
            tools_of("Who supplies 1.67 blanks?"),
            ["marketplace_catalog", "marketplace_directory"]
        );
        assert_eq!(args_of("Who supplies 1.67 blanks?")["query"], "1.67 blanks");
        assert_eq!(
            tools_of("Who sells tortoise frames?"),
            ["marketplace_catalog", "marketplace_directory"]
        );
        assert_eq!(
            tools_of("What's the price of 1.67 blanks?"),
            ["marketplace_catalog"]
        );
        assert_eq!(
            args_of("What's the price of 1.67 blanks?")["query"],
            "1.67 blanks"
        );
        assert_eq!(
            args_of("How much is the tortoise frame from Northwind?")["supplier"],
            "northwind"
        );
        assert_eq!(
            args_of("How much is the tortoise frame from Northwind?")["query"],
            "tortoise frame"
        );
        assert_eq!(
            tools_of("Which labs do progressives?"),
            ["marketplace_directory"]
        );
        assert_eq!(
            args_of("Which labs do progressives?")["specialties"],
            json!(["PROGRESSIVE"])
        );
        assert_eq!(
            args_of("Find a lab for 1.67 lenses")["specialties"],
            json!(["INDEX_1_67"])
        );
        assert_eq!(
            tools_of("Who are we connected with?"),
            ["marketplace_connections"]
        );
        assert_eq!(
            args_of("Which labs are we connected to?")["partnerType"],
            "LAB"
        );
        assert_eq!(
            args_of("Any pending connection requests?")["statuses"],
            json!(["PENDING"])
        );
    }

    #[test]
    fn other_questions_are_passed_on() {
        for q in [
            "What is the meaning of life?",
            "Write a poem about lenses",
            "Explain transposition of a prescription",
            "",
            "?!",
        ] {
            assert!(recognise(q, today()).is_none(), "{q}");
        }
    }

    fn plan_of(q: &str) -> Plan {
        recognise(q, today()).unwrap()
    }

    #[test]
    fn empty_results_are_said_plainly() {
        let late = plan_of("Which orders are late?");
        assert_eq!(
            render(
                &late,
                &[Ok(json!({"count": 0, "orders": [], "today": "2026-03-18"}))]
            ),
            "None of your orders are late."
        );
        let late = plan_of("Which jobs are behind at Clearview?");
        assert_eq!(
            render(&late, &[Ok(json!({"count": 0, "orders": []}))]),
            "None of your orders with Clearview are late."
        );
        let reorder = plan_of("What should I reorder?");
        assert_eq!(
            render(&reorder, &[Ok(json!({"count": 0, "products": []}))]),
            "Nothing needs reordering right now."
        );
        assert!(render(&reorder, &[Err("FORBIDDEN".into())]).contains("FORBIDDEN"));
    }

    #[test]
    fn answers_come_from_the_results_only() {
        let late = plan_of("Which orders are late?");
        let orders: Vec<Value> = (1..=12)
            .map(|i| {
                json!({"orderNumber": format!("ORD-{i:06}"), "side": "PRACTICE", "status": "IN_PRODUCTION",
                       "partner": "Clearview Lens Lab", "patientRef": format!("P{i}"), "dueDate": "2026-03-15",
                       "late": true, "labJobNumber": null})
            })
            .collect();
        let text = render(
            &late,
            &[Ok(
                json!({"count": 14, "orders": orders, "today": "2026-03-18"}),
            )],
        );
        assert!(text.starts_with("14 orders are late"), "{text}");
        assert!(
            text.contains(
                "ORD-000001 at Clearview Lens Lab: in production, due 2026-03-15 (3 days late)"
            ),
            "{text}"
        );
        assert!(text.contains("ORD-000010"));
        assert!(!text.contains("ORD-000011"));
        assert!(text.ends_with("…and 4 more."), "{text}");

        let counts = plan_of("How many orders this month?");
        let text = render(
            &counts,
            &[Ok(
                json!({"from": "2026-03-01", "to": "2026-03-18", "byStatus": {"DRAFT": 1, "SHIPPED": 2},
                        "created": 3, "submitted": 2, "delivered": 0, "openNow": 3, "lateNow": 1}),
            )],
        );
        assert_eq!(
            text,
            "This month (2026-03-01 to 2026-03-18): 3 orders created, 2 submitted, 0 delivered. By status now: 1 draft, 2 shipped. Open now: 3; late now: 1."
        );

        let runs = plan_of("What will run out before Friday?");
        let text = render(
            &runs,
            &[Ok(json!({"until": "2026-03-19", "count": 1, "products": [
                {"sku": "BLK-167", "name": "1.67 blank", "available": 4, "onOrder": 0,
                 "meanDailyDemand": 2.0, "daysLeft": 2.0, "runsOutOn": "2026-03-20"}]}))],
        );
        assert!(text.contains("BLK-167 1.67 blank: 4 available"), "{text}");

        let draft = plan_of("Draft a PO to Northwind for 20 x NW-167-BLK");
        let text = render(
            &draft,
            &[Ok(
                json!({"poNumber": "PO-000007", "supplier": "Northwind Frames", "total": "250.00", "currency": "EUR",
                        "lines": [{"sku": "NW-167-BLK", "name": "Blank", "quantity": 20, "unitPrice": "12.50"}]}),
            )],
        );
        assert!(
            text.contains(
                "PO-000007 to Northwind Frames: 20 x NW-167-BLK Blank at 12.50; total 250.00 EUR"
            ),
            "{text}"
        );
        assert!(text.contains("nothing has been sent"));
    }
}
