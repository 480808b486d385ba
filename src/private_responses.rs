//! Responses that show a login are private: every response to a request in
//! which [`AuthenticatedUser`](crate::AuthenticatedUser) was extracted (and
//! with it `StepUp<R>` and `Granted<P>`, which extract it first) gets
//! `Cache-Control: private, no-store`, set by the layer on the way out.
//!
//! One mechanism instead of per-handler discipline: a page behind the
//! extractor alone (the README's first example) would otherwise be cached
//! by the browser, and Back after logout would show the previous user's
//! page. The layer puts a [`LoginShown`] flag into every request it passes
//! on; the extractor raises it; [`MarkPrivate`] reads it when the response
//! is ready.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::response::Response;
use http::Extensions;

use crate::error::render::mark_private;

/// Raised when a request's handler was handed a login.
#[derive(Clone, Default)]
pub(crate) struct LoginShown(Arc<AtomicBool>);

impl LoginShown {
    /// Raises the flag of the request whose extensions these are (if the
    /// layer passed it on; a request it did not see has no flag to raise).
    pub(crate) fn raise(extensions: &Extensions) {
        if let Some(shown) = extensions.get::<LoginShown>() {
            shown.0.store(true, Ordering::Relaxed);
        }
    }

    fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pin_project_lite::pin_project! {
    /// The inner service's response future, marking the response private
    /// when the request's [`LoginShown`] flag was raised.
    pub struct MarkPrivate<F> {
        #[pin]
        inner: F,
        shown: LoginShown,
    }
}

impl<F> MarkPrivate<F> {
    pub(crate) fn new(inner: F, shown: LoginShown) -> Self {
        MarkPrivate { inner, shown }
    }
}

impl<F, E> Future for MarkPrivate<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut output = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &mut output
            && this.shown.is_raised()
        {
            mark_private(response);
        }
        Poll::Ready(output)
    }
}
