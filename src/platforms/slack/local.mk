# The Slack adapter (Socket Mode + Web API): sources, tests, fake and bench.
integration_tests += tests/integration/slack_fake_bolt.test.js
EXTRA_DIST += src/platforms/slack/local.mk tests/lib/fake-slack.js \
	bench/slack/package.json bench/slack/bolt-bot.js
