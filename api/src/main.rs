fn main() -> std::process::ExitCode {
    ils_api::cli::run()
}
