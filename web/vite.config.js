import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The entry script and stylesheet keep fixed names (assets/mini-app.js, assets/mini-app.css):
// the Facebook tab's HTML is written by a Lambda that loads them from the web origin without
// knowing each build's hashes. Everything else is content-hashed.
export default defineConfig({
  plugins: [react()],
  base: './',
  build: {
    target: 'es2020',
    cssCodeSplit: false,
    rollupOptions: {
      output: {
        entryFileNames: 'assets/mini-app.js',
        chunkFileNames: 'assets/[name]-[hash].js',
        assetFileNames: (asset) =>
          (asset.names ?? [asset.name]).some((n) => n && n.endsWith('.css'))
            ? 'assets/mini-app.css'
            : 'assets/[name]-[hash][extname]',
      },
    },
  },
});
