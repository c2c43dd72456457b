fn main() {
    std::process::exit(personalize_local::cli::main())
}
