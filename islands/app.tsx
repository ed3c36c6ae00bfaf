/**
 * The web app's root island: the sign-in forms when signed out, otherwise
 * the sidebar, the conversation and the dialogs. The server renders it to
 * HTML with the same state the browser then hydrates it with.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { api, failureText } from "./client_api.ts";
import { Main } from "./conversation.tsx";
import { Dialogs } from "./dialogs.tsx";
import { Sidebar } from "./sidebar.tsx";
import type { Store } from "./store.ts";
import type { Boot } from "./types.ts";
import { StoreContext, useStore } from "./ui.tsx";

/** The whole app, given its store. */
export function App({ store, boot }: { store: Store; boot: Boot }) {
  return (
    <StoreContext.Provider value={store}>
      {store.me.value ? <ChatLayout /> : <AuthPage mode={boot.auth} next={boot.next} />}
    </StoreContext.Provider>
  );
}

function ChatLayout() {
  const store = useStore();
  const open = store.currentId.value !== null;
  return (
    <div class={`layout${open ? " has-room" : ""}`}>
      <a class="skip" href="#main">Skip to conversation</a>
      <Sidebar />
      <Main />
      <Dialogs />
    </div>
  );
}

/** The page title for an unread total. */
export function titleFor(unread: number, room?: string | null): string {
  const base = room ? `${room} · Parley` : "Parley";
  return unread > 0 ? `(${unread}) ${base}` : base;
}

function AuthPage({ mode, next }: { mode: "login" | "register"; next: string }) {
  const username = useSignal("");
  const password = useSignal("");
  const error = useSignal("");
  const busy = useSignal(false);
  // Until the island is live, a submit would do nothing useful: keep it off.
  const live = useSignal(false);
  useEffect(() => void (live.value = true), []);
  const registering = mode === "register";
  return (
    <main class="auth">
      <div class="auth-card">
        <div class="auth-brand">
          <span class="brand-mark" aria-hidden="true">P</span>Parley
        </div>
        <h1>{registering ? "Create your account" : "Sign in"}</h1>
        <p class="muted">
          {registering ? "Pick a name people will see." : "Welcome back. Your rooms are waiting."}
        </p>
        <form
          class="form"
          method="post"
          onSubmit={async (e) => {
            e.preventDefault();
            busy.value = true;
            error.value = "";
            try {
              await api("POST", registering ? "/api/auth/register" : "/api/auth/login", {
                username: username.value.trim(),
                password: password.value,
              });
              location.assign(next);
            } catch (err) {
              error.value = failureText(
                err,
                registering ? "new accounts from this address" : "sign-in attempts",
              );
              busy.value = false;
            }
          }}
        >
          <label for="username">Username</label>
          <input
            id="username"
            name="username"
            autoComplete="username"
            required
            minLength={3}
            maxLength={32}
            pattern="[A-Za-z0-9_\-]{3,32}"
            title="3–32 letters, digits, _ or -"
            value={username.value}
            onInput={(e) => username.value = e.currentTarget.value}
          />
          <label for="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete={registering ? "new-password" : "current-password"}
            required
            minLength={8}
            maxLength={128}
            value={password.value}
            onInput={(e) => password.value = e.currentTarget.value}
          />
          {registering ? <p class="hint">At least 8 characters.</p> : null}
          {error.value ? <p class="error" role="alert">{error.value}</p> : null}
          <button type="submit" class="button primary wide" disabled={busy.value || !live.value}>
            {registering ? "Create account" : "Sign in"}
          </button>
        </form>
        <p class="auth-switch">
          {registering ? "Already have an account? " : "New to Parley? "}
          <a href={(registering ? "/login" : "/register") + nextQuery(next)}>
            {registering ? "Sign in" : "Create an account"}
          </a>
        </p>
      </div>
    </main>
  );
}

function nextQuery(next: string): string {
  return next === "/" ? "" : `?next=${encodeURIComponent(next)}`;
}
