# Plugin API fixtures run by chorus-test (tests/integration/plugin_api.test.js).
EXTRA_DIST += tests/plugins/local.mk \
	tests/plugins/toolbox/init.lua tests/plugins/toolbox/manifest.lua \
	tests/plugins/toolbox/test/handled.lua tests/plugins/toolbox/test/http.lua \
	tests/plugins/toolbox/test/kit.lua tests/plugins/toolbox/test/tools.lua
integration_tests += tests/integration/plugin_api.test.js
