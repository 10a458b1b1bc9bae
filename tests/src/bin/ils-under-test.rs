//! The `ils` binary, built inside the test package so black-box tests can spawn it
//! (Cargo only exposes a package's own binaries to its tests).
fn main() -> std::process::ExitCode {
    ils_api::cli::run()
}
