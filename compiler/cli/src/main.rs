//! The `ovnflow` command line.
fn main() {
    println!("ovnflow");
}
