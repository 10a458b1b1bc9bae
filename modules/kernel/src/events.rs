//! Domain events: recorded in the outbox inside the transaction of the write that caused
//! them (`Tx::emit`), delivered at least once after commit by the dispatcher, which
//! publishes them on the bus (GraphQL subscriptions, in-process or across replicas through
//! a relay) and enqueues the jobs of every handler registered for their type. An event of
//! a rolled-back transaction never existed; consumers are idempotent on the event id.

use crate::{AppError, AppResult, Db, TenantContext, Tx};
use chrono::{DateTime, Utc};
use ils_entity::event;
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QuerySelect};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use uuid::Uuid;

/// A typed domain event. `TYPE` is its stable name (`connection.accepted`); the value is
/// serialised as the event's `data`, and read back with `Event::decode`.
pub trait DomainEvent: Serialize + DeserializeOwned {
    const TYPE: &'static str;
    /// The version of `data`'s shape; raise it when the shape changes incompatibly. A
    /// consumer decodes only the version it knows.
    const VERSION: i32 = 1;
    /// Only the audience's company admins may see it (team and credential events: an
    /// invitee's address, a new API key); others see every event of their company.
    const ADMINS_ONLY: bool = false;
}

/// The type and data version an event of `E` is recorded with.
pub fn signature<E: DomainEvent>() -> (&'static str, i32) {
    (E::TYPE, E::VERSION)
}

/// An event as delivered.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The company whose action caused it, if a company acted.
    pub company_id: Option<Uuid>,
    /// The companies allowed to see it.
    pub audience: Vec<Uuid>,
    /// Only the audience's company admins may see it.
    #[serde(default)]
    pub admins_only: bool,
    /// The version of `data`'s shape (its type's `DomainEvent::VERSION`).
    #[serde(default = "first_version")]
    pub version: i32,
    pub data: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    /// Its place in dispatch order, given when it is dispatched (none before): its cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
}

fn first_version() -> i32 {
    1
}

impl Event {
    /// The event's data as `E`, when the event is of `E`'s type (`None` for another type).
    /// Data of another version than `E::VERSION`, or not of `E`'s shape, is an error that
    /// names the event: a consumer never acts on a payload it misread.
    pub fn decode<E: DomainEvent>(&self) -> AppResult<Option<E>> {
        self.decode_as(&[signature::<E>()])
    }

    /// The data of an event of any type in `family` (types sharing one payload, such as
    /// every order event), read as `P`: `None` for an event of another type; an error for
    /// one of the family at a version other than its signature's, or not of `P`'s shape.
    pub fn decode_as<P: DeserializeOwned>(
        &self,
        family: &[(&'static str, i32)],
    ) -> AppResult<Option<P>> {
        let Some((_, version)) = family.iter().find(|(t, _)| *t == self.event_type) else {
            return Ok(None);
        };
        if self.version != *version {
            return Err(AppError::internal(format!(
                "event {} ({}) has data version {}; this release reads version {version}",
                self.id, self.event_type, self.version
            )));
        }
        serde_json::from_value(self.data.clone())
            .map(Some)
            .map_err(|e| {
                AppError::internal(format!(
                    "event {} ({}) does not fit its type: {e}",
                    self.id, self.event_type
                ))
            })
    }

    /// `decode_as` for a live stream: a misread event is logged and skipped.
    pub fn read_as<P: DeserializeOwned>(&self, family: &[(&'static str, i32)]) -> Option<P> {
        self.decode_as(family)
            .inspect_err(|e| tracing::warn!(error = ?e, "an event could not be read"))
            .ok()
            .flatten()
    }

    /// The context an event handler acts in for `company`, one of the companies the event
    /// was addressed to (its audience): the event itself is the record of why. Any other
    /// company is refused; a handler that must act elsewhere uses `system::act_for`.
    pub fn act_for_audience(&self, company: Uuid) -> AppResult<TenantContext> {
        if !self.audience.contains(&company) {
            return Err(AppError::internal(format!(
                "event {} ({}) was not addressed to company {company}",
                self.id, self.event_type
            )));
        }
        Ok(TenantContext::system_for(Some(company)))
    }

    /// Whether a member of `company` (an admin or not) may see it.
    pub fn visible_to(&self, company: Uuid, admin: bool) -> bool {
        self.audience.contains(&company) && (admin || !self.admins_only)
    }

    /// Whether `patterns` select this event: exact types, `prefix.*`, or `*`.
    pub fn matches(&self, patterns: &[String]) -> bool {
        patterns.iter().any(|p| type_matches(p, &self.event_type))
    }

    pub(crate) fn from_row(row: event::Model) -> AppResult<Event> {
        Ok(Event {
            id: row.id,
            event_type: row.event_type,
            company_id: row.company_id,
            audience: serde_json::from_str(&row.audience)
                .map_err(|e| AppError::internal(format!("bad event audience: {e}")))?,
            admins_only: row.admins_only,
            version: row.version,
            data: serde_json::from_str(&row.data)
                .map_err(|e| AppError::internal(format!("bad event data: {e}")))?,
            occurred_at: row.occurred_at,
            seq: row.seq,
        })
    }

    /// Whether this event comes after `last` (the cursor of the last one a reader of the
    /// ordered stream handled), moving `last` on to it if so. Events are published in
    /// cursor order, so one at or before `last` is a repeat; one without a cursor (not
    /// dispatched) always counts.
    pub fn moves_on(&self, last: &mut Option<i64>) -> bool {
        match (self.seq, *last) {
            (Some(seq), Some(l)) if seq <= l => false,
            (Some(_), _) => {
                *last = self.seq;
                true
            }
            (None, _) => true,
        }
    }

    /// The cursor a subscriber resumes after (`after:`), once the event is dispatched.
    pub fn cursor(&self) -> Option<String> {
        self.seq.map(Cursor::encode)
    }
}

pub use crate::event_types::{check_patterns, type_matches};

impl Tx {
    /// Records `event` in the outbox, in this transaction. It is seen by the acting company
    /// and by `parties` (the other side of a shared row). Returns the event id.
    pub async fn emit<E: DomainEvent>(&self, event: &E, parties: &[Uuid]) -> AppResult<Uuid> {
        let mut audience: Vec<Uuid> = self.scope().company().into_iter().collect();
        for p in parties {
            if !audience.contains(p) {
                audience.push(*p);
            }
        }
        let id = Uuid::now_v7();
        let data = serde_json::to_string(event)
            .map_err(|e| AppError::internal(format!("event not serialisable: {e}")))?;
        // No RETURNING: the application role may add to the outbox but not read it.
        crate::below::insert_event(event::ActiveModel {
            id: Set(id),
            event_type: Set(E::TYPE.to_owned()),
            company_id: Set(self.scope().company()),
            audience: Set(serde_json::to_string(&audience).unwrap_or_else(|_| "[]".into())),
            admins_only: Set(E::ADMINS_ONLY),
            version: Set(E::VERSION),
            data: Set(data),
            occurred_at: Set(Utc::now()),
            dispatched_at: Set(None),
            seq: Set(None),
            published_at: Set(None),
        })
        .exec_without_returning(self.conn())
        .await?;
        self.mark_emitted();
        Ok(id)
    }
}

/// Carries published events to every replica (Redis pub/sub); each replica's relay
/// listener hands what it receives to `Bus::deliver_local`.
#[async_trait::async_trait]
pub trait Relay: Send + Sync {
    async fn publish(&self, event: &Event) -> AppResult<()>;
}

/// Where live events flow to subscriptions. Without a relay it is one process's broadcast
/// channel; with one, every event goes out through the relay and comes back in through
/// each replica's listener, this one included, so there is one path and no duplicates.
///
/// Besides the channel of every event, each company with live subscribers has a channel of
/// its own that carries only the events addressed to it (its audience), so a subscription
/// wakes only for events its company may see: with many tenants' sockets open, one event
/// costs the sockets of its audience, not every socket of the process.
#[derive(Clone)]
pub struct Bus {
    local: broadcast::Sender<Arc<Event>>,
    companies: Arc<Mutex<Companies>>,
    relay: Option<Arc<dyn Relay>>,
}

/// How many events the channel of every event holds for a subscriber that has not read
/// them yet.
const BUS_CAPACITY: usize = 4096;
/// The same for one company's channel: a subscriber further behind than this many of its
/// company's events skips them (logged). Its slots are allocated when the company's first
/// subscriber arrives (about 40 bytes each) and freed with its last.
const COMPANY_CAPACITY: usize = 256;

/// The channels of the companies with live subscribers.
#[derive(Default)]
struct Companies {
    channels: HashMap<Uuid, broadcast::Sender<Arc<Event>>>,
    /// The number of channels after the last sweep of those without subscribers.
    swept: usize,
}

impl Default for Bus {
    fn default() -> Self {
        Bus::in_process()
    }
}

impl Bus {
    pub fn in_process() -> Bus {
        Bus {
            local: broadcast::channel(BUS_CAPACITY).0,
            companies: Arc::default(),
            relay: None,
        }
    }

    pub fn with_relay(relay: Arc<dyn Relay>) -> Bus {
        Bus {
            relay: Some(relay),
            ..Bus::in_process()
        }
    }

    pub async fn publish(&self, event: Event) -> AppResult<()> {
        match &self.relay {
            Some(r) => r.publish(&event).await,
            None => {
                self.deliver_local(event);
                Ok(())
            }
        }
    }

    /// Hands an event to this process's subscribers: once to the channel of every event,
    /// and once to the channel of each company of its audience that has subscribers (the
    /// same `Arc`, never a copy of the event).
    pub fn deliver_local(&self, event: Event) {
        let event = Arc::new(event);
        // No receivers is fine: nobody is listening right now.
        let _ = self.local.send(event.clone());
        let mut companies = self.companies.lock().unwrap_or_else(|e| e.into_inner());
        for company in &event.audience {
            if let Some(tx) = companies.channels.get(company)
                && tx.send(event.clone()).is_err()
            {
                // Its last subscriber has gone.
                companies.channels.remove(company);
            }
        }
    }

    /// Every event of this process, whoever it is addressed to.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.local.subscribe()
    }

    /// The events addressed to `company` (its audience names it), in the order they were
    /// delivered. An event delivered before this call is not among them.
    pub fn subscribe_company(&self, company: Uuid) -> broadcast::Receiver<Arc<Event>> {
        let mut companies = self.companies.lock().unwrap_or_else(|e| e.into_inner());
        // Channels whose subscribers all left are dropped at their company's next event;
        // a company that gets none is swept here, once the map has doubled since the last
        // sweep (so the sweeps cost O(1) a subscription).
        if companies.channels.len() > 2 * companies.swept.max(32) {
            companies.channels.retain(|_, tx| tx.receiver_count() > 0);
            companies.swept = companies.channels.len();
        }
        companies
            .channels
            .entry(company)
            .or_insert_with(|| broadcast::channel(COMPANY_CAPACITY).0)
            .subscribe()
    }

    /// The live events `company` may see whose type matches `patterns`: what every
    /// subscription resolver builds on (a typed one maps and filters further). A subscriber
    /// that falls too far behind skips what it missed (logged); live streams are not
    /// durable, webhooks and handler jobs are.
    pub fn visible_stream(
        &self,
        company: Uuid,
        admin: bool,
        patterns: Vec<String>,
    ) -> impl futures_util::Stream<Item = Arc<Event>> + Send + 'static + use<> {
        futures_util::stream::unfold(
            (self.subscribe_company(company), patterns),
            move |(mut rx, patterns)| async move {
                loop {
                    match rx.recv().await {
                        Ok(ev) if ev.visible_to(company, admin) && ev.matches(&patterns) => {
                            return Some((ev, (rx, patterns)));
                        }
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "a subscriber fell behind; events skipped");
                            continue;
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        )
    }
}

/// A subscriber's place in the stream of events, as clients hold it: opaque to them, it
/// names an event's `seq`.
pub struct Cursor;

impl Cursor {
    pub fn encode(seq: i64) -> String {
        format!("{seq}")
    }

    /// The `seq` a client's cursor names; BAD_USER_INPUT on `field` for anything else.
    pub fn decode(cursor: &str, field: &str) -> AppResult<i64> {
        cursor
            .parse::<i64>()
            .ok()
            .filter(|s| *s >= 0)
            .ok_or_else(|| AppError::bad_input(field, "not an event cursor"))
    }
}

/// The highest cursor given so far.
pub(crate) async fn last_seq(tx: &Tx) -> AppResult<Option<i64>> {
    Ok(crate::below::events()
        .select_only()
        .column_as(event::Column::Seq.max(), "seq")
        .into_tuple::<Option<i64>>()
        .one(tx.conn())
        .await?
        .flatten())
}

/// How many events one read of the outbox replays.
const REPLAY_PAGE: u64 = 500;

/// Checks that events after `after` can still be replayed: the cursor was given by this
/// server (not past the last event), and nothing after it has been pruned.
pub async fn check_cursor(db: &Db, after: i64, field: &str) -> AppResult<()> {
    let tx = crate::below::system(db).await?;
    let (first, last) = crate::below::events()
        .select_only()
        .column_as(event::Column::Seq.min(), "first")
        .column_as(event::Column::Seq.max(), "last")
        .into_tuple::<(Option<i64>, Option<i64>)>()
        .one(tx.conn())
        .await?
        .unwrap_or((None, None));
    tx.commit().await?;
    if after > last.unwrap_or(0) {
        return Err(AppError::bad_input(field, "not a cursor of this server"));
    }
    if first.is_some_and(|first| after + 1 < first) {
        return Err(AppError::bad_input(
            field,
            "events after this cursor are no longer kept: read the current state, then subscribe without `after`",
        ));
    }
    Ok(())
}

/// The cursor of the last dispatched event (0 when there is none): where a subscriber
/// that starts now would resume from.
pub async fn head(db: &Db) -> AppResult<i64> {
    let tx = crate::below::system(db).await?;
    let last = last_seq(&tx).await?;
    tx.commit().await?;
    Ok(last.unwrap_or(0))
}

/// Up to `limit` dispatched events after `after`, in cursor order, addressed to `company`
/// when one is given (its audience names it), every company's otherwise (a replica's
/// relay listener catching up after Redis came back).
pub async fn after(
    db: &Db,
    company: Option<Uuid>,
    after: i64,
    limit: u64,
) -> AppResult<Vec<Event>> {
    use sea_orm::QueryOrder;
    let tx = crate::below::system(db).await?;
    let mut q = crate::below::events()
        .filter(event::Column::Seq.gt(after))
        .order_by_asc(event::Column::Seq)
        .limit(limit);
    if let Some(company) = company {
        // The audience is a JSON array of ids; an id's text appears in no other id.
        q = q.filter(event::Column::Audience.contains(company.to_string()));
    }
    let rows = q.all(tx.conn()).await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let id = row.id;
            Event::from_row(row)
                .inspect_err(
                    |e| tracing::warn!(event = %id, error = ?e, "an outbox row cannot be read"),
                )
                .ok()
        })
        .collect())
}

/// Where a resumable stream is.
struct Resume {
    rx: broadcast::Receiver<Arc<Event>>,
    patterns: Vec<String>,
    /// The cursor of the last event looked at (delivered, or replayed past).
    last: Option<i64>,
    /// Replayed events not yet handed out.
    backlog: std::collections::VecDeque<Arc<Event>>,
    /// Whether the outbox still holds events after `last` that the live channel will not bring.
    replaying: bool,
}

impl Bus {
    /// `visible_stream` with no gap and no duplicate: the events after `after` are replayed
    /// from the outbox first, then the live ones follow; a subscriber that fell behind the
    /// live channel is replayed what it missed. Events come in cursor order, each once. The
    /// stream ends if the outbox cannot be read (the client resumes from its last cursor).
    pub fn resumable_stream(
        &self,
        db: Db,
        company: Uuid,
        admin: bool,
        patterns: Vec<String>,
        after: Option<i64>,
    ) -> impl futures_util::Stream<Item = Arc<Event>> + Send + 'static + use<> {
        let state = Resume {
            // Listening before replaying, so nothing falls between the two.
            rx: self.subscribe_company(company),
            patterns,
            last: after,
            backlog: Default::default(),
            replaying: after.is_some(),
        };
        futures_util::stream::unfold(state, move |mut st| {
            let db = db.clone();
            async move {
                loop {
                    if let Some(ev) = st.backlog.pop_front() {
                        return Some((ev, st));
                    }
                    if st.replaying {
                        let from = st.last.unwrap_or(0);
                        // Boxed: the stream is held between polls, and a read's future is
                        // large; an idle socket's stream should weigh what it waits with.
                        let read = Box::pin(self::after(&db, Some(company), from, REPLAY_PAGE));
                        let rows = match read.await {
                            Ok(rows) => rows,
                            Err(e) => {
                                tracing::warn!(error = ?e, "could not replay events; the stream ends");
                                return None;
                            }
                        };
                        st.replaying = rows.len() as u64 == REPLAY_PAGE;
                        for ev in rows {
                            st.last = ev.seq.max(st.last);
                            if ev.visible_to(company, admin) && ev.matches(&st.patterns) {
                                st.backlog.push_back(Arc::new(ev));
                            }
                        }
                        continue;
                    }
                    match st.rx.recv().await {
                        Ok(ev) => {
                            if !ev.moves_on(&mut st.last) {
                                continue; // replayed already
                            }
                            if ev.visible_to(company, admin) && ev.matches(&st.patterns) {
                                return Some((ev, st));
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            if st.last.is_some() {
                                tracing::debug!(missed = n, "a subscriber fell behind; replaying");
                                st.replaying = true;
                            } else {
                                tracing::warn!(
                                    missed = n,
                                    "a subscriber fell behind; events skipped"
                                );
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            }
        })
    }
}

/// One event fanned out to many sockets is executed once, not once per socket, where a
/// subscription's result depends on nothing but the event: the stream of such a
/// subscription (`events`) offers each event here just before GraphQL executes it, and the
/// transport's execution hook takes it and shares one execution among every subscription
/// with the same document, variables and visibility (company, admin). A stream that offers
/// nothing is executed per subscription, as usual.
///
/// The transport puts one in the request data of every subscription it may share (as an
/// `Arc<SharedDelivery>`); each event's execution takes what was offered for it (the
/// next event is not read before that execution ends).
#[derive(Default, Debug)]
pub struct SharedDelivery(Mutex<Option<Arc<Event>>>);

impl SharedDelivery {
    /// The event about to be executed; its result must depend on the event alone (and the
    /// document, variables and visibility).
    pub fn offer(&self, event: &Arc<Event>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(event.clone());
    }

    /// The event offered for the execution starting now, if any.
    pub fn take(&self) -> Option<Arc<Event>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Deletes published events older than `keep` (the retention of resume cursors); returns
/// how many. The last event stays whatever its age: the cursors of later events count on
/// from it.
pub async fn prune(db: &Db, keep: chrono::Duration) -> AppResult<u64> {
    let tx = crate::below::system(db).await?;
    let last = last_seq(&tx).await?.unwrap_or(0);
    let n = crate::below::delete_events()
        .filter(event::Column::DispatchedAt.lt(Utc::now() - keep))
        .filter(event::Column::PublishedAt.is_not_null())
        .filter(
            sea_orm::Condition::any()
                .add(event::Column::Seq.is_null())
                .add(event::Column::Seq.lt(last)),
        )
        .exec(tx.conn())
        .await?
        .rows_affected;
    tx.commit().await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_patterns_are_checked() {
        assert!(
            check_patterns(
                &["*".into(), "order.*".into(), "api_key.created".into()],
                "t"
            )
            .is_ok()
        );
        for bad in ["", "Order", "a*b", "**", "order.*.x"] {
            assert!(check_patterns(&[bad.into()], "t").is_err(), "{bad}");
        }
        assert!(check_patterns(&[], "t").is_err());
        assert!(check_patterns(&vec!["a".to_string(); 51], "t").is_err());
    }

    #[test]
    fn type_patterns() {
        assert!(type_matches("*", "order.shipped"));
        assert!(type_matches("order.*", "order.shipped"));
        assert!(!type_matches("order.*", "orders_x"));
        assert!(type_matches("order.shipped", "order.shipped"));
        assert!(!type_matches("order.shipped", "order.submitted"));
    }

    /// An event of type `ty` for `audience`, with nothing else in it.
    fn event_to(ty: &str, audience: Vec<Uuid>) -> Event {
        Event {
            id: Uuid::now_v7(),
            event_type: ty.into(),
            company_id: None,
            audience,
            admins_only: false,
            version: 1,
            data: serde_json::json!({}),
            occurred_at: Utc::now(),
            seq: None,
        }
    }

    #[tokio::test]
    async fn visible_streams_carry_only_the_companys_matching_events() {
        use futures_util::StreamExt;
        let bus = Bus::in_process();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut stream = Box::pin(bus.visible_stream(a, false, vec!["order.*".into()]));
        let ev = event_to;
        bus.publish(ev("order.shipped", vec![b])).await.unwrap();
        bus.publish(ev("user.invited", vec![a])).await.unwrap();
        let secret = Event {
            admins_only: true,
            ..ev("order.secret", vec![a])
        };
        bus.publish(secret).await.unwrap();
        let mine = ev("order.shipped", vec![b, a]);
        bus.publish(mine.clone()).await.unwrap();
        assert_eq!(*stream.next().await.unwrap(), mine);
    }

    #[tokio::test]
    async fn company_channels_carry_only_their_audiences_events_and_go_with_their_subscribers() {
        let bus = Bus::in_process();
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let ev = |audience: Vec<Uuid>| event_to("t.x", audience);
        let mut ra = bus.subscribe_company(a);
        let mut rb = bus.subscribe_company(b);
        let (to_b, to_ab, to_c) = (ev(vec![b]), ev(vec![c, a, b]), ev(vec![c]));
        for e in [&to_b, &to_ab, &to_c] {
            bus.publish(e.clone()).await.unwrap();
        }
        assert_eq!(*ra.recv().await.unwrap(), to_ab);
        assert!(ra.try_recv().is_err(), "a saw another company's event");
        assert_eq!(*rb.recv().await.unwrap(), to_b);
        assert_eq!(*rb.recv().await.unwrap(), to_ab);
        assert!(rb.try_recv().is_err());
        // One event, one allocation: both companies hold the same Arc.
        let (mut ra2, mut rb2) = (bus.subscribe_company(a), bus.subscribe_company(b));
        bus.publish(ev(vec![a, b])).await.unwrap();
        assert!(Arc::ptr_eq(
            &ra2.recv().await.unwrap(),
            &rb2.recv().await.unwrap()
        ));

        // A company whose subscribers left loses its channel at its next event, and the
        // sweep drops the channels of companies that get none.
        drop((ra, ra2));
        bus.publish(ev(vec![a])).await.unwrap();
        assert!(!bus.companies.lock().unwrap().channels.contains_key(&a));
        let many: Vec<Uuid> = (0..200).map(|_| Uuid::now_v7()).collect();
        for m in &many {
            drop(bus.subscribe_company(*m));
        }
        assert!(bus.companies.lock().unwrap().channels.len() < 100);
        assert!(bus.companies.lock().unwrap().channels.contains_key(&b));
        drop((rb, rb2));
    }

    #[tokio::test]
    async fn in_process_bus_delivers_to_subscribers() {
        let bus = Bus::in_process();
        let mut rx = bus.subscribe();
        let ev = Event {
            id: Uuid::now_v7(),
            event_type: "t.x".into(),
            company_id: None,
            audience: vec![],
            admins_only: false,
            version: 1,
            data: serde_json::json!({"a": 1}),
            occurred_at: Utc::now(),
            seq: Some(7),
        };
        bus.publish(ev.clone()).await.unwrap();
        assert_eq!(*rx.recv().await.unwrap(), ev);
    }
}
