// A clock for countdowns. It ticks once a second only while the document is
// visible (a hidden tray popup costs nothing) and catches up when shown again.

/** Call during component initialisation; stops with the component. */
export function liveNow(): { readonly now: number } {
  let now = $state(Date.now());

  $effect(() => {
    let timer: ReturnType<typeof setInterval> | undefined;
    const tick = () => {
      now = Date.now();
    };
    const sync = () => {
      if (document.visibilityState === 'hidden') {
        clearInterval(timer);
        timer = undefined;
      } else if (timer === undefined) {
        tick();
        timer = setInterval(tick, 1000);
      }
    };
    sync();
    document.addEventListener('visibilitychange', sync);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', sync);
    };
  });

  return {
    get now() {
      return now;
    },
  };
}
