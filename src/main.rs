//! `semu`: parses the command line and hands over to the library.

use clap::Parser;

fn main() {
    // A panic in any thread ends semu (with the terminal restored), never a thread alone.
    semu::term::exit_on_panic();
    let cli = semu::cli::Cli::parse();
    match semu::cli::main_with(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) if semu::cli::is_broken_pipe(&e) => std::process::exit(0),
        Err(e) => {
            eprintln!("semu: error: {e:#}");
            std::process::exit(2);
        }
    }
}
