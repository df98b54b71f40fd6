import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { initialLanguage } from './i18n';
import { createQueryClient } from './queryClient';
import { registerServiceWorker } from './serviceWorker';
import './styles.css';

const language = initialLanguage();
// Before the first paint, so assistive technology never reads the page in the wrong language.
document.documentElement.lang = language;

const queryClient = createQueryClient();

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App queryClient={queryClient} language={language} />
  </StrictMode>,
);

registerServiceWorker();
