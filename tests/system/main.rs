//! The system tests: what needs the machine to have something, chiefly the
//! end-to-end suites that run a real spec-kitty-cli release's own code from
//! its venv (`scripts/release-fixtures --venvs-only`). One libtest-mimic
//! binary (`harness.rs`): a trial whose need is missing is ignored with its
//! reason, or failed under `SK_E2E=require` (as CI sets).

#[path = "../shared/mod.rs"]
mod shared;

mod cutover;
mod cutover_delivery;
mod cutover_doctor;
mod cutover_live;
mod cutover_signal;
mod drain;
mod fixes_clear;
mod foreign_home;
mod full_disk;
mod harness;
mod live_queue;
mod live_queue_big;
mod man_page;
mod owner_read;
mod owner_verdict;
mod queue_cap;
mod root_trust;
mod shape;

fn main() -> std::process::ExitCode {
    let mut trials = Vec::new();
    trials.extend(cutover_delivery::trials());
    trials.extend(cutover_doctor::trials());
    trials.extend(cutover::trials());
    trials.extend(cutover_live::trials());
    trials.extend(cutover_signal::trials());
    trials.extend(live_queue::trials());
    trials.extend(live_queue_big::trials());
    trials.extend(owner_verdict::trials());
    trials.extend(owner_read::trials());
    trials.extend(queue_cap::trials());
    trials.extend(drain::trials());
    trials.extend(full_disk::trials());
    trials.extend(foreign_home::trials());
    trials.extend(man_page::trials());
    trials.extend(shape::trials());
    trials.extend(root_trust::trials());
    trials.extend(fixes_clear::trials());
    harness::main(trials)
}
