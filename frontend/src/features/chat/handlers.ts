/** The chat feature's entries in the handler table: one per chat reply and event. */
import type { Handlers } from '@/interfaces'
import type { useChatStore } from '@/stores/chat'

type ChatStore = ReturnType<typeof useChatStore>

export function chatHandlers(chat: ChatStore) {
  return {
    // Replies.
    listRooms: ({ rooms }) => chat.setRooms(rooms),
    createRoom: ({ room }) => chat.upsertRoom(room),
    joinRoom: (reply) => chat.applyJoinReply(reply),
    leaveRoom: ({ room }) => chat.applyLeave(room),
    sendMessage: ({ message }) => chat.receiveMessage(message),
    // A `history` reply does not name its room; each message does.
    history: ({ messages }) => {
      for (const message of messages) chat.mergeMessages(message.room, [message])
    },
    markRead: ({ room, unread }) => chat.setUnread(room, unread),
    // `typing` is both the (empty) reply to our own `typing` and the event for someone else's.
    typing: (data) => {
      if ('user' in data) chat.userTyping(data.room, data.user)
    },
    // Events.
    message: (message) => chat.receiveMessage(message),
    userJoined: ({ room, user }) => chat.userJoined(room, user),
    userLeft: ({ room, user }) => chat.userLeft(room, user),
    presence: ({ room, online }) => chat.setOnline(room, online),
  } satisfies Partial<Handlers>
}
