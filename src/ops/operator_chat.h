/* operator_chat.h - operators' commands typed in chat: the pipeline hook
 * that takes a message starting with the admin prefix before any skill. */
#ifndef CHORUS_OPERATOR_CHAT_H
#define CHORUS_OPERATOR_CHAT_H
/* Install the hook on the channel queue (app/modules.c). */
void operator_chat_install(void);
#endif
