fn main() {
    // Before any thread exists (the environment is process-wide and not thread-safe to change).
    workroom_app::webview_defaults();
    workroom_app::run()
}
