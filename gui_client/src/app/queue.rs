//! The transfer queue across log-outs and restarts: keeping the unfinished
//! transfers of the session in the settings (at log-out, at quit and
//! whenever eframe saves), offering them at the next login to the same
//! server (at the same address, or with the same certificate) as the same
//! user, and continuing or discarding them.
//!
//! What is kept and offered is `state::queue`; the dialog is
//! `panels::resume`. The transfers restart through `transfers`, so a
//! download onto a file that appeared meanwhile is asked about, and each
//! continues from the library's own resume state.

use log::info;

use super::FerryApp;
use crate::state::queue::{self, QueueOwner, ResumeOffer, SavedDirection};
use crate::state::trust::Secured;
use crate::worker::WorkerHandle;

impl FerryApp {
    /// Keeps the session's unfinished transfers in the settings, for the
    /// next login to this server as this user. While the offer of an
    /// earlier queue is open, those stay kept too.
    pub fn remember_queue(&mut self) {
        let Some(session) = self.session.as_ref().filter(|_| self.role.is_some()) else {
            return;
        };
        let owner = owner(session, self.secured.as_ref());
        let mut kept = self
            .resume_offer
            .as_ref()
            .map(|offer| offer.queue.transfers.clone())
            .unwrap_or_default();
        kept.extend(queue::unfinished(&self.transfers));
        queue::store(&mut self.settings.saved_transfers, owner, kept);
    }

    /// The open offer to continue earlier transfers, if any.
    pub fn resume_offer(&self) -> Option<&ResumeOffer> {
        self.resume_offer.as_ref()
    }

    /// Just logged in: offers the transfers left unfinished here, if any.
    pub(super) fn offer_saved_queue(&mut self) {
        let Some(session) = &self.session else {
            return;
        };
        let owner = owner(session, self.secured.as_ref());
        self.resume_offer = queue::find(&self.settings.saved_transfers, owner)
            .map(|q| ResumeOffer { queue: q.clone() });
    }

    /// The answer to the offer: continue every transfer, or forget them
    /// and delete their partial downloads.
    pub(super) fn resume_answer(&mut self, go: bool) {
        let Some(offer) = self.resume_offer.take() else {
            return;
        };
        let saved = offer.queue.transfers;
        if go {
            info!("continuing {} unfinished transfer(s)", saved.len());
            self.next_batch += 1;
            let batch = self.next_batch;
            for t in saved {
                match t.direction {
                    _ if t.folder => self.continue_folder(&t, batch),
                    SavedDirection::Upload => {
                        self.continue_upload(t.local, &t.name, t.policy.policy(), batch);
                    }
                    SavedDirection::Download => {
                        self.queue_download(&t.name, t.version, t.local, t.mirrors, batch);
                    }
                }
            }
            self.set_info("Continuing the unfinished transfers.".to_owned());
        } else {
            info!("discarding {} unfinished transfer(s)", saved.len());
            if let Some(session) = &self.session {
                for t in saved {
                    if t.direction == SavedDirection::Download {
                        session.discard_partials(t.local, t.folder);
                    }
                }
            }
            self.set_info("Discarded the unfinished transfers.".to_owned());
        }
        self.remember_queue();
    }
}

/// Whose queue `session`'s is: its user on its server, known by the address
/// and, over TLS, by the certificate.
fn owner<'a>(session: &'a WorkerHandle, secured: Option<&'a Secured>) -> QueueOwner<'a> {
    QueueOwner {
        addr: session.addr(),
        fingerprint: secured.and_then(|s| s.fingerprint.as_deref()),
        user: session.user(),
    }
}
