// Empty: the build-dependencies above exist for feature unification only.
fn main() {}
