import { createRouter, createWebHistory } from 'vue-router'

import { useAuthStore } from '@/stores/auth'
import LoginView from '@/views/LoginView.vue'

declare module 'vue-router' {
  interface RouteMeta {
    /** Only for a signed-in user; others go to the login page. */
    requiresAuth?: boolean
    /** Only for a signed-out user; others go to the chat. */
    guestOnly?: boolean
    title?: string
  }
}

const router = createRouter({
  // History mode: the backend serves index.html for unknown paths (SPA fallback).
  history: createWebHistory(import.meta.env.BASE_URL),
  routes: [
    { path: '/', redirect: { name: 'chat' } },
    {
      path: '/login',
      name: 'login',
      component: LoginView,
      meta: { guestOnly: true, title: 'Log in' },
    },
    {
      path: '/signup',
      name: 'signup',
      component: () => import('@/views/SignupView.vue'),
      meta: { guestOnly: true, title: 'Sign up' },
    },
    {
      path: '/rooms/:roomId(\\d+)?',
      name: 'chat',
      component: () => import('@/views/ChatView.vue'),
      meta: { requiresAuth: true, title: 'Chat' },
    },
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

router.beforeEach(async (to) => {
  const auth = useAuthStore()
  await auth.restore() // once per page load: the refresh cookie may hold a session
  if (to.meta.requiresAuth && !auth.isAuthenticated) {
    return {
      name: 'login',
      query: to.name === 'chat' && !to.params.roomId ? {} : { redirect: to.fullPath },
    }
  }
  if (to.meta.guestOnly && auth.isAuthenticated) return { name: 'chat' }
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · Chat` : 'Chat'
})

export default router
