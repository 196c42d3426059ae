fn main() -> std::process::ExitCode {
    callform::run()
}
