/* plugin_watch.h - development mode: reload a plugin when its files change
 * (`skills { watch = true }`). */
#ifndef CHORUS_PLUGIN_WATCH_H
#define CHORUS_PLUGIN_WATCH_H
struct skill_host;
/* Watch the folders of HOST's plugins (stops watching the previous ones). */
void plugin_watch_sync(struct skill_host *h, int enabled);
void plugin_watch_stop(void);
#endif
