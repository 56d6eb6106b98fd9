//! The `portcullis` command-line program.

fn main() {
    for name in portcullis::default_policy_names() {
        println!("{name}");
    }
}
