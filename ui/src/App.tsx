import { Center, Loader } from "@mantine/core";
import { useAppInfo } from "./api/hooks";
import { useCoreEvents } from "./api/coreEvents";
import { toApiError } from "./api/errors";
import { AppFrame } from "./features/shell/AppFrame";
import { StartupErrorScreen } from "./features/startup/StartupErrorScreen";
import type { AppInfo } from "./bindings";

function RunningApp({ info }: { info: AppInfo }) {
  useCoreEvents();
  return <AppFrame info={info} />;
}

export function App() {
  const appInfo = useAppInfo();

  if (appInfo.isPending) {
    return (
      <Center mih="100vh">
        <Loader aria-label="Starting HyperSDK Desktop" />
      </Center>
    );
  }
  if (appInfo.isError) {
    return <StartupErrorScreen error={toApiError(appInfo.error)} />;
  }
  const info = appInfo.data;
  if (info.startup_error) {
    return <StartupErrorScreen error={info.startup_error} info={info} />;
  }
  return <RunningApp info={info} />;
}
