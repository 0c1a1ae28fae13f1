fn main() {
    workroom_app::run()
}
