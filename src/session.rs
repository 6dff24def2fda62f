//! The encrypted session store of current CLIs (DESIGN §6).
//!
//! Seam: resolution calls [`read_identity`]; decryption lands with its own issue.

use crate::error::Error;
use crate::home::Home;

/// The parts of a decrypted session that name a scope. Nothing else is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIdentity {
    pub email: String,
    pub teams: Vec<Team>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub is_private_teamspace: bool,
}

impl SessionIdentity {
    /// The id of the first team marked as the private teamspace.
    pub fn private_team_id(&self) -> Option<String> {
        self.teams
            .iter()
            .find(|t| t.is_private_teamspace)
            .map(|t| t.id.clone())
    }
}

/// Read the session's identity; `Ok(None)` when there is no session file.
pub fn read_identity(home: &Home) -> Result<Option<SessionIdentity>, Error> {
    let _ = home;
    Ok(None)
}
