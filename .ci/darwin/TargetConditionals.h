/* A stand-in for the macOS SDK header of this name, for CI's `cargo check
 * --target x86_64-apple-darwin` on Linux: ring's C includes it only to
 * learn which Apple platform it is built for. Nothing is linked. */
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_SIMULATOR 0
