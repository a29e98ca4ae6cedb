/* confdefs.h */
#define PACKAGE_NAME "chorus"
#define PACKAGE_TARNAME "chorus"
#define PACKAGE_VERSION "0.1.0"
#define PACKAGE_STRING "chorus 0.1.0"
#define PACKAGE_BUGREPORT "https://github.com/chorus/chorus/issues"
#define PACKAGE_URL ""
#define PACKAGE "chorus"
#define VERSION "0.1.0"
