//! The Gatehouse console executable; everything lives in the library.
#![cfg_attr(
    all(not(debug_assertions), target_os = "windows"),
    windows_subsystem = "windows"
)]

fn main() {
    gatehouse_console::run();
}
