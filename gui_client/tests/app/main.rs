//! The app against real servers, driven through egui_kittest: one test
//! binary for all of it (each would otherwise link the whole app and its
//! renderer again). The modules are the areas a user meets; `support`
//! holds the fixtures they share. The snapshot tests are `../snapshots.rs`.

mod support;

mod admin;
mod files;
mod folders;
mod login;
mod never_lose_work;
mod transfers;
mod trust;
mod uploads;
