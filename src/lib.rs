//! axum-bankid
