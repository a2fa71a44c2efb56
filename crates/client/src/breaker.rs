//! The emergency breaker from a responder's side (invariant 3): the TokenPause or TokenUnpause
//! body the server hands out, decoded and checked here before a device signs it, and the
//! signature sent back. The CLI and the console both go through this.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use gatehouse_protocol::hedera::{Action, BodyView, decode_body};
use gatehouse_protocol::pause::{Breaker, NewPause, NewUnpause, PauseRequest, SignedPause};
use gatehouse_protocol::proposal::{Payload, Proposal, UNEXECUTABLE_PAYER};

use crate::connection::{Connection, Error as ConnectionError};
use crate::proposals::ReviewError;

/// A body the server handed out to sign, decoded and checked here.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The server's request (quoted when the signature is sent).
    pub request: PauseRequest,
    /// The exact bytes the device signs.
    pub bytes: Vec<u8>,
    /// Those bytes, decoded here.
    pub body: BodyView,
    /// For an unpause: the approved resume proposal it carries out.
    pub resume: Option<Proposal>,
}

impl Prepared {
    /// Whether this pauses (or else unpauses) the token.
    pub fn pauses(&self) -> bool {
        self.resume.is_none()
    }
}

fn decode(request: PauseRequest) -> Result<(PauseRequest, Vec<u8>, BodyView), ReviewError> {
    let bytes = B64
        .decode(&request.body)
        .map_err(|_| ReviewError::Mismatch("the body to sign is not base64".to_owned()))?;
    let body = decode_body(&bytes)?;
    Ok((request, bytes, body))
}

/// Asks for the TokenPause body of the deployment's token, with `reason` (optional), and checks
/// that it is one.
pub async fn prepare_pause(conn: &Connection, reason: &str) -> Result<Prepared, ReviewError> {
    let request: PauseRequest = conn
        .post(
            "/v1/pause/request",
            &NewPause {
                reason: reason.to_owned(),
            },
        )
        .await?;
    let (request, bytes, body) = decode(request)?;
    if !matches!(body.action, Action::TokenPause { .. }) {
        return Err(ReviewError::Mismatch(
            "the server handed out something other than a TokenPause to sign".to_owned(),
        ));
    }
    Ok(Prepared {
        request,
        bytes,
        body,
        resume: None,
    })
}

/// Asks for the TokenUnpause body that carries out the approved resume proposal `id`, and checks
/// that it unpauses that proposal's token and can execute (the officers' statements cannot).
pub async fn prepare_unpause(conn: &Connection, id: &str) -> Result<Prepared, ReviewError> {
    let proposal: Proposal = conn.get(&format!("/v1/proposals/{id}")).await?;
    let Payload::Resume { token, .. } = &proposal.payload else {
        return Err(ReviewError::Mismatch(format!(
            "proposal {id} is a {}, not a resume",
            proposal.kind.as_str()
        )));
    };
    let token = token.clone();
    let request: PauseRequest = conn
        .post(
            "/v1/resume/request",
            &NewUnpause {
                proposal: id.to_owned(),
            },
        )
        .await?;
    let (request, bytes, body) = decode(request)?;
    match &body.action {
        Action::TokenUnpause { token: t } if *t != token => Err(ReviewError::Mismatch(format!(
            "the body unpauses token {t}, not the resume's token {token}"
        ))),
        Action::TokenUnpause { .. } if body.payer == UNEXECUTABLE_PAYER => Err(
            ReviewError::Mismatch("the body cannot execute (its payer does not exist)".to_owned()),
        ),
        Action::TokenUnpause { .. } => Ok(Prepared {
            request,
            bytes,
            body,
            resume: Some(proposal),
        }),
        _ => Err(ReviewError::Mismatch(
            "the server handed out something other than a TokenUnpause to sign".to_owned(),
        )),
    }
}

/// Sends the device's `signature` over `prepared`'s bytes: the breaker after it (tripped by a
/// pause; after an unpause, closed once the mirror shows the token unpaused).
pub async fn send(
    conn: &Connection,
    prepared: Prepared,
    signature: &[u8],
    device: Option<String>,
) -> Result<Breaker, ConnectionError> {
    let path = if prepared.pauses() {
        "/v1/pause"
    } else {
        "/v1/resume"
    };
    conn.post(
        path,
        &SignedPause {
            request: prepared.request.request,
            signature: B64.encode(signature),
            device,
        },
    )
    .await
}
