import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import pxtorem from 'postcss-pxtorem';

// The entry script and stylesheet keep fixed names (assets/mini-app.js, assets/mini-app.css):
// the Facebook tab's HTML is written by a Lambda that loads them from the web origin without
// knowing each build's hashes. Everything else is content-hashed.
//
// VKUI sizes its text in px, which a reader's font-size setting (the browser's, or a WebView's text
// size) cannot enlarge. Its font tokens (--vkui--font_*: sizes and line heights) are turned into
// rem at the root's 16 px: the same look at the default size, and text that follows the setting.
export default defineConfig({
  plugins: [react()],
  base: './',
  css: {
    postcss: {
      plugins: [pxtorem({ rootValue: 16, propList: ['--vkui--font_*'], minPixelValue: 0 })],
    },
  },
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
