// Svelte compiler options shared by Vite, Vitest and svelte-check.
export default {
  compilerOptions: {
    // Runes everywhere: no legacy reactive statements slip in.
    runes: true,
  },
};
