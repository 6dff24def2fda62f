fn main() {
    eprintln!("sk-doctor: not yet");
    std::process::exit(1);
}
