//! Declares the console's commands so Tauri generates a permission for each;
//! `capabilities/main.json` grants them to the main window.

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(&[
        "profile_list",
        "profile_choose_file",
        "profile_add",
        "profile_import",
        "profile_remove",
        "profile_pin_mirror",
        "startup_profile",
        "connect",
        "disconnect",
        "ledger_status",
        "live_check",
        "device_scan",
        "device_open",
        "device_generate",
        "device_change_pin",
        "device_unblock_pin",
        "audit_status",
        "audit_sync",
        "audit_verify",
        "audit_page",
        "audit_timeline",
        "audit_facets",
        "audit_entry",
        "audit_export",
        "audit_discard",
        "proposals_list",
        "proposal_detail",
        "proposal_review",
        "proposal_approve",
        "proposal_reject",
        "proposal_cancel",
        "mint_propose",
        "policy_current",
        "policy_propose",
        "breaker_status",
        "breaker_prepare_pause",
        "breaker_prepare_unpause",
        "breaker_sign",
        "resume_propose",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .unwrap_or_else(|e| panic!("tauri build step failed: {e:#}"));
}
