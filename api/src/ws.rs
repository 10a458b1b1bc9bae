//! `/graphql/ws`: graphql-transport-ws and the legacy graphql-ws, authenticated in
//! `connection_init` with the same credentials as HTTP.

use crate::credentials::{self, Presented};
use crate::extension::RequestMeta;
use crate::state::AppState;
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::Response;
use ils_kernel::ClientInfo;
use std::net::SocketAddr;

pub async fn handler(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    // The same cap as an HTTP body: axum's default would take 64 MiB messages.
    let max = app.config.max_body_bytes;
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let schema = app.schema.clone();
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let tenant = credentials::resolve(&app, Presented::from_json(&payload))
                        .await
                        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
                    // Introspection and hints are off for anonymous callers in production, and
                    // a socket cannot switch them per operation, so such sockets are refused.
                    if tenant.is_anonymous()
                        && app.config.env == crate::config::Environment::Production
                        && app.config.introspection != crate::config::Introspection::On
                    {
                        return Err(async_graphql::Error::new("authentication required"));
                    }
                    if tenant.persisted_only {
                        return Err(async_graphql::Error::new(
                            "this API key may run persisted operations only",
                        ));
                    }
                    let introspection = crate::transport::may_introspect(&app, &tenant);
                    let mut data = Data::default();
                    data.insert(tenant);
                    data.insert(ClientInfo {
                        address: Some(peer.ip().to_string()),
                        user_agent: None,
                    });
                    data.insert(RequestMeta {
                        request_id: uuid::Uuid::now_v7().to_string(),
                        introspection,
                    });
                    Ok(data)
                })
                .serve()
        })
}
