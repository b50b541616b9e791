// Entry point of the console bundle (app.js, app.css).
import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import './app.css';

const root = document.getElementById('root');
if (root) createRoot(root).render(<App />);
