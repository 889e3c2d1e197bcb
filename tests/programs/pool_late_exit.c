/* Links pool_late_lib, whose destructor allocates after the agent's own exit-time work. */
void pool_late_lib_linked(void);
int main(void) {
  pool_late_lib_linked();
  return 0;
}
