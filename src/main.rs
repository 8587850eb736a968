//! The `poolcap` binary: parse arguments, run, map the outcome to an exit code.

fn main() {
    std::process::exit(poolcap::main_with_args(std::env::args_os()).code());
}
